using Qlaw.AppHost.LocalStack;

namespace Qlaw.Testing;

/// <summary>
/// A throwaway PostgreSQL (no fsync) and an in-memory Azurite on free ports, shared by the collections of the test
/// process that run at the same time (<see cref="SharedStack"/>) and removed after the last. Each test asks for its own
/// database and task hub, so tests never see each other's rows or orchestrations.
/// </summary>
public sealed class QlawStackFixture : IAsyncLifetime
{
    private SharedStack? _stack;

    public LocalPostgres Postgres => Stack.Postgres;

    public LocalAzurite Azurite => Stack.Azurite;

    private SharedStack Stack => _stack ?? throw new InvalidOperationException("The stack has not started.");

    public async Task InitializeAsync() => _stack = await SharedStack.AcquireAsync();

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
    /// Settings of a server process on this stack: a new database with every migration applied (the server's own
    /// migration at start finds nothing to do), and its own task hub.
    /// </summary>
    public async Task<Dictionary<string, string?>> ServerSettingsAsync() =>
        new(IsolatedHubSettings())
        {
            ["ConnectionStrings:Postgres"] = await CreateMigratedDatabaseAsync(),
            ["ConnectionStrings:DurableStorage"] = Azurite.ConnectionString,
            ["Database:MigrateOnStartup"] = "true",
        };

    /// <summary>Creates an empty database and returns its connection string (for tests of migrating it).</summary>
    public Task<string> CreateDatabaseAsync() => Stack.CreateDatabaseAsync();

    /// <inheritdoc cref="SharedStack.CreateMigratedDatabaseAsync"/>
    public Task<string> CreateMigratedDatabaseAsync() => Stack.CreateMigratedDatabaseAsync();

    public Task DisposeAsync() => SharedStack.ReleaseAsync();
}
