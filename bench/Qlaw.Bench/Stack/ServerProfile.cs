using System.Globalization;

namespace Qlaw.Bench.Stack;

/// <summary>
/// How one Qlaw.Server start is configured for a group of scenarios: the scripted model's pacing, the delta batching
/// window and the hub. Rate limits are off and the stream cap is out of reach: the bench is one client address.
/// </summary>
internal sealed record ServerProfile(string Name, HubSettings Hub)
{
    public int TurnDelayMs { get; init; }

    public int TokenDelayMs { get; init; }

    /// <summary>Null keeps the server's default window (Streaming:DeltaWindowMs, 15 ms).</summary>
    public int? DeltaWindowMs { get; init; }

    /// <summary>Zero-latency model, default batching: run latency and job throughput.</summary>
    public static ServerProfile ZeroLatency() => new("zero-latency", HubSettings.Fresh("bz"));

    /// <summary>A model streaming a token every 20 ms (about 50 tokens/s, a fast LLM): SSE fan-out.</summary>
    public static ServerProfile PacedStream() =>
        new("paced-stream", HubSettings.Fresh("bp") with { MaxConcurrentActivities = 256, MaxConcurrentOrchestrations = 256 }) { TokenDelayMs = 20 };

    /// <summary>Zero-latency model with every token its own row (no batching window): the write path's ceiling.</summary>
    public static ServerProfile Unbatched() =>
        new("unbatched", HubSettings.Fresh("bw") with { MaxConcurrentActivities = 64, MaxConcurrentOrchestrations = 64 }) { DeltaWindowMs = 0 };

    /// <summary>Server settings added last (they win).</summary>
    public IReadOnlyDictionary<string, string?> Extra { get; init; } = new Dictionary<string, string?>();

    /// <summary>Paced turns on the server's default hub settings, plus <paramref name="extra"/>: the chaos run.</summary>
    public static ServerProfile Chaos(IReadOnlyDictionary<string, string?> extra) =>
        new("chaos", HubSettings.Fresh("bc")) { TurnDelayMs = 250, TokenDelayMs = 5, Extra = extra };

    /// <summary>Turns that take a while, so that runs are in flight when the server is killed.</summary>
    public static ServerProfile Paced(HubSettings hub) => new("paced-turns", hub) { TurnDelayMs = 300, TokenDelayMs = 5 };

    /// <summary>
    /// Runs that fail for good, on the server's default hub settings, with the bounds of a failing run in minutes
    /// instead of days: a dead letter is abandoned after a minute (default a day), its run deleted a minute after that
    /// (default: never), the reconciler and retention passes every second and every 5 s (defaults 10 s and an hour).
    /// The server's own cap of 1,000 active runs paces the starts (a dead letter is active until abandoned): the bench,
    /// one client, may hold all of them (default 100 a client) and is told to retry after 1 s instead of 10.
    /// </summary>
    public static ServerProfile DeadLetters() =>
        new("dead-letters", HubSettings.Fresh("bd"))
        {
            Extra = new Dictionary<string, string?>
            {
                ["Limits:MaxActiveRuns"] = "1000",
                ["Limits:MaxActiveRunsPerClient"] = "1000",
                ["Limits:ActiveRunsRetryAfterSeconds"] = "1",
                ["Recovery:AbandonDeadLettersAfterSeconds"] = "60",
                ["Recovery:ReconcileIntervalSeconds"] = "1",
                ["Retention:DeleteRunsAfterSeconds"] = "60",
                ["Retention:IntervalSeconds"] = "5",
            },
        };

    /// <summary>
    /// A model that answers like a real one (first token, then tokens at a pace) at <paramref name="modelUrl"/>, the
    /// fake's /v1 URL, as the <c>openai</c> endpoint; the hub at its ceiling, so that many runs wait on the model at
    /// once; the server's connections named, so that PostgreSQL's count of them leaves the bench's own out.
    /// </summary>
    public static ServerProfile PacedModel(Uri modelUrl) =>
        new("paced-model", HubSettings.Fresh("bm") with { MaxConcurrentActivities = 1000, MaxConcurrentOrchestrations = 1000 })
        {
            PostgresApplicationName = PacedApplicationName,
            Extra = new Dictionary<string, string?>(ModelConcurrency)
            {
                ["Models:OpenAI:BaseUrl"] = modelUrl.ToString(),
                ["Models:OpenAI:ApiKey"] = "sk-bench",
                ["Models:OpenAI:DefaultModel"] = "paced",
            },
        };

    /// <summary>The <c>application_name</c> of the paced server's PostgreSQL connections.</summary>
    public const string PacedApplicationName = "qlaw-bench-server";

    /// <summary>
    /// How many model calls the paced server makes at once, and what it does with the rest: the place for settings
    /// such as <c>Models:OpenAI:MaxConcurrentCalls</c> (none yet: today's server calls the model from every turn the
    /// hub runs, up to <c>Durable:MaxConcurrentActivities</c>).
    /// </summary>
    public static IReadOnlyDictionary<string, string?> ModelConcurrency { get; } = new Dictionary<string, string?>();

    /// <summary>Null leaves the connection string as the stack gives it; else its <c>Application Name</c>.</summary>
    public string? PostgresApplicationName { get; init; }

    public Dictionary<string, string?> Settings(string postgres, string storage, string workflows)
    {
        if (PostgresApplicationName is { } name)
        {
            postgres = new Npgsql.NpgsqlConnectionStringBuilder(postgres) { ApplicationName = name }.ConnectionString;
        }

        var settings = new Dictionary<string, string?>(Hub.ToServerSettings())
        {
            ["ConnectionStrings:Postgres"] = postgres,
            ["ConnectionStrings:DurableStorage"] = storage,
            ["Database:MigrateOnStartup"] = "true",
            ["Database:SeedWorkflowsPath"] = workflows,
            ["Models:Scripted:TurnDelayMs"] = TurnDelayMs.ToString(CultureInfo.InvariantCulture),
            ["Models:Scripted:TokenDelayMs"] = TokenDelayMs.ToString(CultureInfo.InvariantCulture),
            ["RateLimits:Enabled"] = "false",
            ["RateLimits:MaxOpenStreamsPerClient"] = "100000",
            // The benchmark is one client driving long runs at scale: it measures the engine, not the server's ceilings.
            ["Limits:MaxSteps"] = "1000",
            ["Limits:MaxActiveRuns"] = "1000000",
            ["Limits:MaxActiveRunsPerClient"] = "1000000",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
        };
        if (DeltaWindowMs is { } window)
        {
            settings["Streaming:DeltaWindowMs"] = window.ToString(CultureInfo.InvariantCulture);
        }

        foreach (var (key, value) in Extra)
        {
            settings[key] = value;
        }

        return settings;
    }
}
