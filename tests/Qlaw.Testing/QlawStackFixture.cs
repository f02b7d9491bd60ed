using Qlaw.AppHost.LocalStack;

namespace Qlaw.Testing;

/// <summary>
/// A throwaway PostgreSQL (no fsync) and an in-memory Azurite on free ports, started once per test collection and
/// removed afterwards. Each test asks for its own database, so tests never see each other's rows.
/// </summary>
public sealed class QlawStackFixture : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"qlaw-tests-{Guid.NewGuid():N}");
    private LocalPostgres? _postgres;
    private LocalAzurite? _azurite;

    public LocalPostgres Postgres => _postgres ?? throw new InvalidOperationException("The stack has not started.");

    public LocalAzurite Azurite => _azurite ?? throw new InvalidOperationException("The stack has not started.");

    public async Task InitializeAsync()
    {
        var repository = RepositoryRoot.Find();
        var postgres = LocalPostgres.StartAsync(Path.Combine(_root, "postgres"), Network.FreePort(), durable: false, echo: false);
        var azurite = LocalAzurite.StartAsync(repository, null, Network.FreePort(), Network.FreePort(), Network.FreePort(), echo: false);
        _postgres = await postgres;
        _azurite = await azurite;
    }

    /// <summary>
    /// Settings that give a server its own task hub on the shared Azurite (two servers on one hub would run each
    /// other's orchestrations against the wrong database), sized for tests.
    /// </summary>
    public static Dictionary<string, string?> IsolatedHubSettings(string? hubName = null) => new()
    {
        ["Durable:HubName"] = hubName ?? $"t{Guid.NewGuid():N}"[..20],
        ["Durable:PartitionCount"] = "1",
        ["Durable:MaxQueuePollingInterval"] = "00:00:00.500",
    };

    /// <summary>
    /// Settings of a server process on this stack: a new, empty database migrated at start, and its own task hub.
    /// </summary>
    public async Task<Dictionary<string, string?>> ServerSettingsAsync() =>
        new(IsolatedHubSettings())
        {
            ["ConnectionStrings:Postgres"] = await CreateDatabaseAsync(),
            ["ConnectionStrings:DurableStorage"] = Azurite.ConnectionString,
            ["Database:MigrateOnStartup"] = "true",
        };

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public Task<string> CreateDatabaseAsync() => Postgres.EnsureDatabaseAsync($"t{Guid.NewGuid():N}");

    public async Task DisposeAsync()
    {
        if (_azurite is not null)
        {
            await _azurite.DisposeAsync();
        }

        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }

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
