using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Qlaw.Data.Migrations
{
    /// <summary>
    /// New <c>run_events</c> rows announce themselves: a statement trigger sends <c>NOTIFY qlaw_run_events</c> with the
    /// run's id (no dashes) once per run and statement, delivered when the writing transaction commits. Writers no
    /// longer spend a round trip on it, and no writer can forget it.
    /// </summary>
    public partial class RunEventsNotify : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(
                """
                CREATE FUNCTION run_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('qlaw_run_events', replace(run_id::text, '-', '')) FROM (SELECT DISTINCT run_id FROM inserted) AS runs;
                    RETURN NULL;
                END $$;

                CREATE TRIGGER run_events_notify AFTER INSERT ON run_events
                    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION run_events_notify();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(
                """
                DROP TRIGGER run_events_notify ON run_events;
                DROP FUNCTION run_events_notify();
                """);
        }
    }
}
