using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Qlaw.Data.Migrations
{
    /// <inheritdoc />
    public partial class Fork : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "route_state",
                table: "steps",
                type: "jsonb",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "definition_hash",
                table: "runs",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<Guid>(
                name: "forked_from",
                table: "runs",
                type: "uuid",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "from_step",
                table: "runs",
                type: "integer",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_runs_forked_from",
                table: "runs",
                column: "forked_from");

            migrationBuilder.AddForeignKey(
                name: "fk_runs_runs_forked_from",
                table: "runs",
                column: "forked_from",
                principalTable: "runs",
                principalColumn: "id",
                onDelete: ReferentialAction.SetNull);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "fk_runs_runs_forked_from",
                table: "runs");

            migrationBuilder.DropIndex(
                name: "ix_runs_forked_from",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "route_state",
                table: "steps");

            migrationBuilder.DropColumn(
                name: "definition_hash",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "forked_from",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "from_step",
                table: "runs");
        }
    }
}
