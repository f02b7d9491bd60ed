using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Qlaw.Data.Migrations
{
    /// <summary>
    /// <c>qlaw_expect(ok)</c> raises <c>QL001</c> when <c>ok</c> is not true: a write sent in one batch with its checks
    /// (a turn's completion) stops at the check, and PostgreSQL skips the rest of the batch, its <c>COMMIT</c> included.
    /// </summary>
    public partial class ExpectFunction : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(
                """
                CREATE OR REPLACE FUNCTION qlaw_expect(ok boolean) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
                BEGIN
                    IF ok IS NOT TRUE THEN
                        RAISE EXCEPTION 'the write''s expectation did not hold' USING ERRCODE = 'QL001';
                    END IF;
                END $$;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP FUNCTION IF EXISTS qlaw_expect(boolean);");
        }
    }
}
