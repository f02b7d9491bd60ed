using Qlaw.Testing;

// The late collections run beside each other after the parallel ones, on the stack the parallel ones leave running.
[assembly: TestFramework(LateCollectionsTestFramework.TypeName, LateCollectionsTestFramework.AssemblyName)]

namespace Qlaw.Server.Tests;

/// <summary>
/// The server tests' collections. Those of the first four run in parallel with each other on the one shared stack
/// (each test has its own database and task hub). The late ones run after them, each one test at a time, for tests
/// that must not share the machine with the parallel collections' load: fault injection under load, floods counted
/// against a clock, a browser, timings of seconds. They run beside each other, as lanes: they mostly wait.
/// </summary>
public static class QlawStackCollections
{
    /// <summary>Requests and runs against one in-process server, and data retention.</summary>
    public const string Api = "qlaw-stack-api";

    /// <summary>Streams, model providers, the console's endpoints and configuration edited live.</summary>
    public const string Streams = "qlaw-stack-streams";

    /// <summary>Server processes: migration, crashes, stops and restarts.</summary>
    public const string Processes = "qlaw-stack-processes";

    /// <summary>
    /// Self-healing after lost hubs, storage and database outages and a dropped listener, and a status cache that is
    /// never needed.
    /// </summary>
    public const string Recovery = "qlaw-stack-recovery";

    /// <summary>Late: the chaos run, SIGKILLs of the server, PostgreSQL and Azurite of a stack of its own.</summary>
    public const string LateChaos = "qlaw-stack-late-chaos";

    /// <summary>Late: a PostgreSQL outage, heartbeats with margins of seconds, and Azurite SIGKILLed under a server.</summary>
    public const string LateOutages = "qlaw-stack-late-outages";

    /// <summary>Late: floods counted against a clock, and a browser.</summary>
    public const string LateTimings = "qlaw-stack-late-timings";
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

[CollectionDefinition(QlawStackCollections.LateChaos, DisableParallelization = true)]
public sealed class LateChaosCollectionDefinition : ICollectionFixture<QlawStackFixture>;

[CollectionDefinition(QlawStackCollections.LateOutages, DisableParallelization = true)]
public sealed class LateOutagesCollectionDefinition : ICollectionFixture<QlawStackFixture>;

[CollectionDefinition(QlawStackCollections.LateTimings, DisableParallelization = true)]
public sealed class LateTimingsCollectionDefinition : ICollectionFixture<QlawStackFixture>;
