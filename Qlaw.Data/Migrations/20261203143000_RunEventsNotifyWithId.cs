using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Qlaw.Data.Migrations
{
    /// <summary>
    /// A <c>NOTIFY qlaw_run_events</c> names the row it announces: its payload is the run's id (32 hex digits), a colon
    /// and the event's id. A listener that has already forwarded that row (its own writer handed it over) skips the read.
    /// The payloads of a transaction's rows now differ, so each row is announced on its own instead of once per run.
    /// </summary>
    public partial class RunEventsNotifyWithId : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(
                """
                CREATE OR REPLACE FUNCTION run_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('qlaw_run_events', replace(NEW.run_id::text, '-', '') || ':' || NEW.id);
                    RETURN NULL;
                END $$;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(
                """
                CREATE OR REPLACE FUNCTION run_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('qlaw_run_events', replace(NEW.run_id::text, '-', ''));
                    RETURN NULL;
                END $$;
                """);
        }
    }
}
