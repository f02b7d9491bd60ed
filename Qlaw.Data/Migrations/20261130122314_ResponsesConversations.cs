using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Qlaw.Data.Migrations
{
    /// <inheritdoc />
    public partial class ResponsesConversations : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "client_key",
                table: "runs",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "conversation_id",
                table: "runs",
                type: "character varying(100)",
                maxLength: 100,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "request_hash",
                table: "runs",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "started_via_responses",
                table: "runs",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.CreateIndex(
                name: "ix_runs_conversation_id_id",
                table: "runs",
                columns: new[] { "conversation_id", "id" },
                filter: "conversation_id IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_runs_workflow_id_client_key_id",
                table: "runs",
                columns: new[] { "workflow_id", "client_key", "id" },
                filter: "client_key IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_runs_conversation_id_id",
                table: "runs");

            migrationBuilder.DropIndex(
                name: "ix_runs_workflow_id_client_key_id",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "client_key",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "conversation_id",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "request_hash",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "started_via_responses",
                table: "runs");
        }
    }
}
