using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Qlaw.Data.Migrations
{
    /// <inheritdoc />
    public partial class WorkflowDelete : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_workflows_name",
                table: "workflows");

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "deleted_at",
                table: "workflows",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_workflows_name",
                table: "workflows",
                column: "name",
                unique: true,
                filter: "deleted_at IS NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_workflows_name",
                table: "workflows");

            migrationBuilder.DropColumn(
                name: "deleted_at",
                table: "workflows");

            migrationBuilder.CreateIndex(
                name: "ix_workflows_name",
                table: "workflows",
                column: "name",
                unique: true);
        }
    }
}
