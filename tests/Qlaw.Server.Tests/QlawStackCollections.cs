using Qlaw.Testing;

// The parallel collections leave the shared stack running for the exclusive one that follows them.
[assembly: TestCollectionOrderer(StackKeepingCollectionOrderer.TypeName, StackKeepingCollectionOrderer.AssemblyName)]

namespace Qlaw.Server.Tests;

/// <summary>
/// The server tests' collections. Those of the first four run in parallel with each other on the one shared stack
/// (each test has its own database and task hub); <see cref="Exclusive"/> runs after them, alone, for tests that must
/// not share the machine: fault injection under load, floods counted against a clock, a browser, timings of seconds.
/// </summary>
public static class QlawStackCollections
{
    /// <summary>Requests and runs against one in-process server.</summary>
    public const string Api = "qlaw-stack-api";

    /// <summary>Streams, model providers and the console's endpoints.</summary>
    public const string Streams = "qlaw-stack-streams";

    /// <summary>Server processes: configuration, migration, crashes and restarts.</summary>
    public const string Processes = "qlaw-stack-processes";

    /// <summary>
    /// Self-healing after lost hubs, storage and database outages and a dropped listener, a status cache that is never
    /// needed, and data retention.
    /// </summary>
    public const string Recovery = "qlaw-stack-recovery";

    /// <summary>Tests that run alone, after every other collection.</summary>
    public const string Exclusive = "qlaw-stack-exclusive";
}

// xunit needs the definitions in the test assembly, one class per collection.
[CollectionDefinition(QlawStackCollections.Api)]
public sealed class ApiCollectionDefinition : ICollectionFixture<QlawStackFixture>;

[CollectionDefinition(QlawStackCollections.Streams)]
public sealed class StreamsCollectionDefinition : ICollectionFixture<QlawStackFixture>;

[CollectionDefinition(QlawStackCollections.Processes)]
public sealed class ProcessesCollectionDefinition : ICollectionFixture<QlawStackFixture>;

[CollectionDefinition(QlawStackCollections.Recovery)]
public sealed class RecoveryCollectionDefinition : ICollectionFixture<QlawStackFixture>;

[CollectionDefinition(QlawStackCollections.Exclusive, DisableParallelization = true)]
public sealed class ExclusiveCollectionDefinition : ICollectionFixture<QlawStackFixture>;
