using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Qlaw.Data.Migrations
{
    /// <summary>
    /// The <c>NOTIFY qlaw_run_events</c> trigger fires per row instead of per statement: EF Core inserts each event with
    /// a statement of its own, and a statement trigger's transition table and query cost several times a row trigger's
    /// one call. PostgreSQL delivers a transaction's identical notifications once, so listeners still hear of a run once
    /// per commit.
    /// </summary>
    public partial class RunEventsNotifyPerRow : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(
                """
                DROP TRIGGER run_events_notify ON run_events;
                CREATE OR REPLACE FUNCTION run_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('qlaw_run_events', replace(NEW.run_id::text, '-', ''));
                    RETURN NULL;
                END $$;

                CREATE TRIGGER run_events_notify AFTER INSERT ON run_events FOR EACH ROW EXECUTE FUNCTION run_events_notify();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(
                """
                DROP TRIGGER run_events_notify ON run_events;
                CREATE OR REPLACE FUNCTION run_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('qlaw_run_events', replace(run_id::text, '-', '')) FROM (SELECT DISTINCT run_id FROM inserted) AS runs;
                    RETURN NULL;
                END $$;

                CREATE TRIGGER run_events_notify AFTER INSERT ON run_events
                    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION run_events_notify();
                """);
        }
    }
}
