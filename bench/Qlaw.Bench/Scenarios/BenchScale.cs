namespace Qlaw.Bench.Scenarios;

/// <summary>How many runs, clients and seconds each scenario uses: the sizes, or a quick smoke-test version.</summary>
internal sealed record BenchScale
{
    /// <summary>
    /// Sequential warm-up runs: enough for the runtime to count a run's methods past its tier-up threshold (30 calls,
    /// counted only once first-time compilation has calmed down) and compile them optimized before anything is timed.
    /// </summary>
    public int WarmupRuns { get; init; } = 40;

    /// <summary>Runs measured per concurrency level of the latency scenario (500 sequential: enough for a p99 that sees a stall).</summary>
    public (int Concurrency, int Runs)[] LatencyLevels { get; init; } = [(1, 500), (8, 120), (32, 192)];

    public int ThroughputRuns { get; init; } = 200;

    /// <summary>Pairs of throughput windows (Qlaw's, then the engine's); the report is the pair with the median ratio.</summary>
    public int ThroughputRepetitions { get; init; } = 3;

    /// <summary>Clients on one run; then <see cref="ManyRuns"/> runs with <see cref="ClientsPerRun"/> each.</summary>
    public int[] FanOutClients { get; init; } = [100, 1000, 2000];

    public int ManyRuns { get; init; } = 200;

    public int ClientsPerRun { get; init; } = 2;

    /// <summary>How long delivery and writes are measured once every client is connected.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromSeconds(5);

    public int WriteRuns { get; init; } = 50;

    public int CrashRuns { get; init; } = 20;

    /// <summary>Runs of the paced scenario timed one at a time (the report takes their median).</summary>
    public int PacedAloneRuns { get; init; } = 3;

    /// <summary>Runs started together in each wave of the paced scenario, Qlaw's and the peer's.</summary>
    public int[] PacedWaves { get; init; } = [100, 500, 1000];

    /// <summary>How long a paced wave may take; a wave that does not end in time is reported as far as it got, and the larger ones are skipped.</summary>
    public TimeSpan PacedWaveLimit { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Failing runs of the dead-letter scenario: the 10,000 (200 with <c>--quick</c>).</summary>
    public int DeadLetterRuns { get; init; } = 10_000;

    public bool IsFull { get; init; } = true;

    public static BenchScale Full { get; } = new();

    public static BenchScale Quick { get; } = new()
    {
        WarmupRuns = 3,
        LatencyLevels = [(1, 10), (8, 16)],
        ThroughputRuns = 40,
        ThroughputRepetitions = 1,
        FanOutClients = [50, 200],
        ManyRuns = 20,
        Window = TimeSpan.FromSeconds(3),
        WriteRuns = 10,
        CrashRuns = 5,
        PacedAloneRuns = 1,
        PacedWaves = [20, 100],
        PacedWaveLimit = TimeSpan.FromMinutes(2),
        DeadLetterRuns = 200,
        IsFull = false,
    };
}
