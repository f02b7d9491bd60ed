using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Qlaw.Data.Migrations
{
    /// <inheritdoc />
    public partial class RunClient : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "client",
                table: "runs",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_runs_client_status",
                table: "runs",
                columns: new[] { "client", "status" },
                filter: "client IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_runs_client_status",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "client",
                table: "runs");
        }
    }
}
