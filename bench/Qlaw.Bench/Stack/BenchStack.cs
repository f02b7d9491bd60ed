using System.Globalization;
using Npgsql;
using Qlaw.AppHost.LocalStack;

namespace Qlaw.Bench.Stack;

/// <summary>
/// The local stack the launcher runs, on free ports with throwaway data: PostgreSQL (durable, as the launcher's, with
/// commit timestamps on so that delivery lag is measured from each event's commit) and Azurite.
/// Servers are started on it per <see cref="ServerProfile"/>.
/// </summary>
internal sealed class BenchStack : IAsyncDisposable
{
    private readonly string _root;
    private LocalPostgres _postgres;
    private LocalAzurite _azurite;

    private BenchStack(string root, string repository, LocalPostgres postgres, LocalAzurite azurite, NpgsqlDataSource database, string postgresConnection)
    {
        _root = root;
        Repository = repository;
        _postgres = postgres;
        _azurite = azurite;
        Database = database;
        PostgresConnection = postgresConnection;
    }

    public string Repository { get; }

    /// <summary>The bench's own connections to Qlaw's database (reads of commit times, run and step rows).</summary>
    public NpgsqlDataSource Database { get; }

    public string PostgresConnection { get; }

    /// <summary>Azurite keeps its data on disk, as the launcher runs it (else in memory, as the tests run it).</summary>
    public bool AzuriteOnDisk { get; private init; }

    public string StorageConnection => _azurite.ConnectionString;

    public int PostgresProcessId => _postgres.ProcessId;

    /// <summary>Azurite's processes: one per service (blob, queue, table), as the launcher runs it, unless <see cref="AzuriteOneProcess"/>.</summary>
    public IReadOnlyList<int> AzuriteProcessIds => _azurite.ProcessIds;

    /// <summary>All of Azurite in one Node.js process (<c>--azurite-one-process</c>), as the <c>azurite</c> command runs it: for an A/B.</summary>
    public bool AzuriteOneProcess { get; private init; }

    /// <summary>PostgreSQL counts every statement's calls, plans and time (<c>--pg-statements</c>), written out at the end.</summary>
    public bool PgStatements { get; private init; }

    /// <summary>
    /// Starts the stack; with <paramref name="azuriteDebug"/> Azurite logs every request under the bench's
    /// <c>.local/bench/azurite-debug/</c>, with <paramref name="pgStatements"/> PostgreSQL loads pg_stat_statements.
    /// </summary>
    public static async Task<BenchStack> StartAsync(bool azuriteOnDisk, bool azuriteOneProcess = false, bool azuriteDebug = false, bool pgStatements = false)
    {
        var repository = RepositoryRoot.Find();
        var root = Path.Combine(Path.GetTempPath(), $"qlaw-bench-{Guid.NewGuid():N}");
        var pgPort = Network.FreePort();
        var postgres = await LocalPostgres.StartAsync(Path.Combine(root, "postgres"), pgPort, durable: true, echo: false);

        // Commit timestamps are off by default and only read at start-up.
        await using (var admin = new NpgsqlConnection(postgres.ConnectionString("postgres") + ";Pooling=false"))
        {
            await admin.OpenAsync();
            await using var set = new NpgsqlCommand("ALTER SYSTEM SET track_commit_timestamp = on", admin);
            await set.ExecuteNonQueryAsync();
            if (pgStatements)
            {
                await using var preload = new NpgsqlCommand("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'", admin);
                await preload.ExecuteNonQueryAsync();
            }
        }

        await postgres.DisposeAsync();
        postgres = await LocalPostgres.StartAsync(Path.Combine(root, "postgres"), pgPort, durable: true, echo: false);
        var connection = await postgres.EnsureDatabaseAsync("qlaw");
        if (pgStatements)
        {
            // Its settings exist once the library is loaded; planning is counted too (plans against calls).
            await using var qlaw = new NpgsqlConnection(connection + ";Pooling=false");
            await qlaw.OpenAsync();
            foreach (var sql in (string[])["CREATE EXTENSION IF NOT EXISTS pg_stat_statements", "ALTER SYSTEM SET pg_stat_statements.track_planning = on", "SELECT pg_reload_conf()"])
            {
                await using var command = new NpgsqlCommand(sql, qlaw);
                await command.ExecuteNonQueryAsync();
            }
        }

        var azurite = await LocalAzurite.StartAsync(
            repository, azuriteOnDisk ? Path.Combine(root, "azurite") : null, Network.FreePort(), Network.FreePort(), Network.FreePort(), echo: false, oneProcess: azuriteOneProcess,
            debugLogDirectory: azuriteDebug ? Path.Combine(repository, ".local", "bench", "azurite-debug") : null);
        return new BenchStack(root, repository, postgres, azurite, NpgsqlDataSource.Create(connection), connection)
        {
            AzuriteOnDisk = azuriteOnDisk,
            AzuriteOneProcess = azuriteOneProcess,
            PgStatements = pgStatements,
        };
    }

    /// <summary>Starts Qlaw.Server (migrating and seeding the samples) and waits until it is ready.</summary>
    public async Task<BenchServer> StartServerAsync(ServerProfile profile)
    {
        var settings = profile.Settings(PostgresConnection, StorageConnection, Path.Combine(Repository, "samples", "workflows"));
        return await BenchServer.StartAsync(profile, settings);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (PgStatements)
            {
                await WriteStatementsAsync(Path.Combine(Repository, ".local", "bench", "pg-statements.md"));
            }
        }
        finally
        {
            // The stack goes whether or not the report could be read from PostgreSQL.
            await Database.DisposeAsync();
            await _azurite.DisposeAsync();
            await _postgres.DisposeAsync();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left for the OS to clean; it is under the temp folder.
        }
    }

    // The statements that took PostgreSQL the most time over the whole bench run, as a Markdown table.
    private async Task WriteStatementsAsync(string path)
    {
        const string Top =
            "SELECT calls, plans, total_plan_time, total_exec_time, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 200) " +
            "FROM pg_stat_statements ORDER BY total_plan_time + total_exec_time DESC LIMIT 40";
        var lines = new List<string>
        {
            "| calls | plans | plan ms | exec ms | rows | statement |",
            "|---|---|---|---|---|---|",
        };
        await using (var command = Database.CreateCommand(Top))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"| {reader.GetInt64(0)} | {reader.GetInt64(1)} | {reader.GetDouble(2):0.0} | {reader.GetDouble(3):0.0} | {reader.GetInt64(4)} | `{reader.GetString(5).Replace("|", "\\|", StringComparison.Ordinal)}` |"));
            }
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllLinesAsync(path, lines);
    }

    /// <summary>
    /// SIGKILLs PostgreSQL, as a crash would, and starts it again at once on the same port and data (crash recovery
    /// replays its log). The bench's own pooled connections are dropped.
    /// </summary>
    public async Task KillAndRestartPostgresAsync()
    {
        _postgres.Kill();
        await _postgres.DisposeAsync();
        _postgres = await RetryStartAsync(() => LocalPostgres.StartAsync(_postgres.DataDirectory, _postgres.Port, durable: true, echo: false));
        Database.Clear();
    }

    /// <summary>SIGKILLs Azurite and starts it again at once on the same ports and (disk) data.</summary>
    public async Task KillAndRestartAzuriteAsync()
    {
        _azurite.Kill();
        await _azurite.DisposeAsync();
        var location = AzuriteOnDisk ? Path.Combine(_root, "azurite") : null;
        _azurite = await RetryStartAsync(() => LocalAzurite.StartAsync(Repository, location, _azurite.BlobPort, _azurite.QueuePort, _azurite.TablePort, echo: false, oneProcess: AzuriteOneProcess));
    }

    // The killed process's children (PostgreSQL's backends) may hold its resources for a moment after it is gone.
    private static async Task<T> RetryStartAsync<T>(Func<Task<T>> start)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await start();
            }
            catch (LocalStackException) when (attempt < 10)
            {
                await Task.Delay(500);
            }
        }
    }
}
