using Microsoft.EntityFrameworkCore;
using Npgsql;
using Qlaw.AppHost.LocalStack;
using Qlaw.Data;

namespace Qlaw.Testing;

/// <summary>
/// The one PostgreSQL and Azurite of a test process, started by the first collection that acquires it and stopped by
/// the last one that releases it: collections that run in parallel share it, each test on its own database and task hub
/// (and the late collections that run after them too, when <see cref="LateCollectionsTestFramework"/> says they are coming).
/// </summary>
internal sealed class SharedStack
{
    private const string TemplateDatabase = "qlaw_template";
    private static readonly Lock Gate = new();
    private static Task<SharedStack>? _current;
    private static int _users;
    private static bool _keepOverNextRelease;
    private readonly string _root;
    private readonly Lazy<Task> _template;

    private SharedStack(string root, LocalPostgres postgres, LocalAzurite azurite)
    {
        _root = root;
        Postgres = postgres;
        Azurite = azurite;
        _template = new(MigrateTemplateAsync);
    }

    public LocalPostgres Postgres { get; }

    public LocalAzurite Azurite { get; }

    public static Task<SharedStack> AcquireAsync()
    {
        lock (Gate)
        {
            _users++;
            return _current ??= StartAsync();
        }
    }

    /// <summary>
    /// Keeps the stack when its users next drop to none, for users known to come after them (collections that run
    /// after the parallel ones: <see cref="LateCollectionsTestFramework"/>); the release after that stops it.
    /// </summary>
    public static void KeepOverNextRelease()
    {
        lock (Gate)
        {
            _keepOverNextRelease = true;
        }
    }

    public static async Task ReleaseAsync()
    {
        Task<SharedStack>? last = null;
        lock (Gate)
        {
            if (--_users == 0)
            {
                if (_keepOverNextRelease)
                {
                    _keepOverNextRelease = false;
                }
                else
                {
                    (last, _current) = (_current, null);
                }
            }
        }

        if (last is { IsCompletedSuccessfully: true })
        {
            await last.Result.StopAsync();
        }
    }

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public Task<string> CreateDatabaseAsync() => Postgres.EnsureDatabaseAsync($"t{Guid.NewGuid():N}");

    /// <summary>
    /// Creates a database as migrations leave it, copied from a template migrated once per process, and returns its
    /// connection string.
    /// </summary>
    public async Task<string> CreateMigratedDatabaseAsync()
    {
        await _template.Value;
        var database = $"t{Guid.NewGuid():N}";
        await using var connection = new NpgsqlConnection(Postgres.ConnectionString("postgres") + ";Pooling=false");
        await connection.OpenAsync();
        // Copied as files (PostgreSQL 15's default writes every block of the copy to the WAL): about a third of the CPU,
        // and the checkpoint it takes is cheap with fsync off.
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database}\" TEMPLATE {TemplateDatabase} STRATEGY = FILE_COPY", connection);
        await create.ExecuteNonQueryAsync();
        return Postgres.ConnectionString(database);
    }

    private static async Task<SharedStack> StartAsync()
    {
        var root = Path.Combine(Path.GetTempPath(), $"qlaw-tests-{Guid.NewGuid():N}");
        var postgres = LocalPostgres.StartAsync(Path.Combine(root, "postgres"), Network.FreePort(), durable: false, echo: false);
        var azurite = LocalAzurite.StartAsync(RepositoryRoot.Find(), null, Network.FreePort(), Network.FreePort(), Network.FreePort(), echo: false);
        return new SharedStack(root, await postgres, await azurite);
    }

    // A template must have no open connection when it is copied: the migration's connection is not pooled.
    private async Task MigrateTemplateAsync()
    {
        var template = await Postgres.EnsureDatabaseAsync(TemplateDatabase);
        var options = new DbContextOptionsBuilder<QlawDbContext>().UseQlawPostgres(template + ";Pooling=false").Options;
        await using var db = new QlawDbContext(options);
        await db.Database.MigrateAsync();
    }

    private async Task StopAsync()
    {
        await Azurite.DisposeAsync();
        await Postgres.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS to clean; it is under the temp folder.
        }
    }
}
