using Npgsql;

namespace Qlaw.Core.Database;

/// <summary>
/// The PostgreSQL role the application connects as on a shared server: it reads and writes Qlaw's rows, and nothing
/// more — no DDL, no other database, not the administrator. The <c>migrate</c> command, run as the administrator who
/// owns the schema, creates it (or sets its password again) and grants it what the application needs, including on
/// tables later migrations add.
/// </summary>
public static class AppRole
{
    /// <summary>Setting (environment variable) naming the role; unset, <c>migrate</c> creates none.</summary>
    public const string NameSetting = "QLAW_APP_ROLE";

    /// <summary>Setting (environment variable) with the role's password; never on a command line.</summary>
    public const string PasswordSetting = "QLAW_APP_ROLE_PASSWORD";

    /// <summary>Creates <paramref name="role"/> when missing, sets its password, and grants it Qlaw's tables and sequences.</summary>
    public static async Task GrantAsync(NpgsqlDataSource dataSource, string role, string? password, CancellationToken cancellationToken)
    {
        var name = Identifier(role);
        var login = password is null ? "LOGIN" : $"LOGIN PASSWORD {Literal(password)}";

        // DDL takes no parameters: the name is quoted as an identifier and the password as a literal.
        var sql = $"""
            DO $grant$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {Literal(role)}) THEN
                CREATE ROLE {name} {login} NOSUPERUSER NOCREATEDB NOCREATEROLE;
              ELSE
                ALTER ROLE {name} {login};
              END IF;
              EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), {Literal(role)});
            END $grant$;
            REVOKE CREATE ON SCHEMA public FROM PUBLIC;
            GRANT USAGE ON SCHEMA public TO {name};
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name};
            GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {name};
            ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {name};
            ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {name};
            """;
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string Identifier(string name) => $"\"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";

    // standard_conforming_strings is on (the default since PostgreSQL 9.1): only the quote needs doubling.
    private static string Literal(string value) => $"'{value.Replace("'", "''", StringComparison.Ordinal)}'";
}
