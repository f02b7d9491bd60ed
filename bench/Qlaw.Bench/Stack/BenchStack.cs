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

    /// <summary>Starts the stack; with <paramref name="azuriteDebug"/> Azurite logs every request under the bench's <c>.local/bench/azurite-debug/</c>.</summary>
    public static async Task<BenchStack> StartAsync(bool azuriteOnDisk, bool azuriteOneProcess = false, bool azuriteDebug = false)
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
        }

        await postgres.DisposeAsync();
        postgres = await LocalPostgres.StartAsync(Path.Combine(root, "postgres"), pgPort, durable: true, echo: false);
        var connection = await postgres.EnsureDatabaseAsync("qlaw");

        var azurite = await LocalAzurite.StartAsync(
            repository, azuriteOnDisk ? Path.Combine(root, "azurite") : null, Network.FreePort(), Network.FreePort(), Network.FreePort(), echo: false, oneProcess: azuriteOneProcess,
            debugLogDirectory: azuriteDebug ? Path.Combine(repository, ".local", "bench", "azurite-debug") : null);
        return new BenchStack(root, repository, postgres, azurite, NpgsqlDataSource.Create(connection), connection)
        {
            AzuriteOnDisk = azuriteOnDisk,
            AzuriteOneProcess = azuriteOneProcess,
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
        await Database.DisposeAsync();
        await _azurite.DisposeAsync();
        await _postgres.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left for the OS to clean; it is under the temp folder.
        }
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
