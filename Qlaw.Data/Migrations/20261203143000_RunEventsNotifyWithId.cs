using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Qlaw.Data.Migrations
{
    /// <summary>
    /// Each new row is also announced on <c>qlaw_run_rows</c>, naming itself: the run's id (32 hex digits), a colon and
    /// the event's id, so a listener that has already forwarded that row (its own writer handed it over) skips the read.
    /// The payloads of a transaction's rows differ, so each row is announced there on its own. <c>qlaw_run_events</c>
    /// (the run's id, once per transaction) stays for the servers of the version before, which still run while a
    /// release's migrations are applied and cannot read the new payload.
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
                    PERFORM pg_notify('qlaw_run_events', replace(NEW.run_id::text, '-', ''));
                    PERFORM pg_notify('qlaw_run_rows', replace(NEW.run_id::text, '-', '') || ':' || NEW.id);
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
