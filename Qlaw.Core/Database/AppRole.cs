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

    /// <summary>
    /// Setting (environment variable) with the role's password; never on a command line. Without one the role cannot
    /// sign in itself: it holds Qlaw's privileges for the identities made its members (<see cref="GrantIdentityAsync"/>).
    /// </summary>
    public const string PasswordSetting = "QLAW_APP_ROLE_PASSWORD";

    /// <summary>Setting naming a Microsoft Entra identity (the Function App's) that signs in as a member of the role.</summary>
    public const string IdentitySetting = "QLAW_APP_IDENTITY";

    /// <summary>Setting with that identity's object id (its service principal's).</summary>
    public const string IdentityObjectIdSetting = "QLAW_APP_IDENTITY_OBJECT_ID";

    /// <summary>Creates <paramref name="role"/> when missing, sets its password, and grants it Qlaw's tables and sequences.</summary>
    public static async Task GrantAsync(NpgsqlDataSource dataSource, string role, string? password, CancellationToken cancellationToken)
    {
        var name = Identifier(role);
        var login = password is null ? "NOLOGIN" : $"LOGIN PASSWORD {Literal(password)}";

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

    /// <summary>
    /// On Azure Database for PostgreSQL, run as its Microsoft Entra administrator: creates the role of the managed
    /// identity <paramref name="identity"/> (<paramref name="objectId"/>) when missing, and makes it a member of
    /// <paramref name="role"/>, so that the app signs in with a token and holds Qlaw's privileges, no password anywhere.
    /// </summary>
    public static async Task GrantIdentityAsync(NpgsqlDataSource dataSource, string identity, string objectId, string role, CancellationToken cancellationToken)
    {
        var sql = $"""
            DO $identity$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {Literal(identity)}) THEN
                PERFORM pgaadauth_create_principal_with_oid({Literal(identity)}, {Literal(objectId)}, 'service', false, false);
              END IF;
            END $identity$;
            GRANT {Identifier(role)} TO {Identifier(identity)};
            """;
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string Identifier(string name) => $"\"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";

    // standard_conforming_strings is on (the default since PostgreSQL 9.1): only the quote needs doubling.
    private static string Literal(string value) => $"'{value.Replace("'", "''", StringComparison.Ordinal)}'";
}
