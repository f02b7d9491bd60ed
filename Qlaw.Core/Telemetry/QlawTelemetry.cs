using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.AI;

namespace Qlaw.Core.Telemetry;

/// <summary>
/// Qlaw's own spans and metrics: one <see cref="ActivitySource"/> and one <see cref="Meter"/>, both named
/// <see cref="Name"/>, which the model calls' gen_ai spans and metrics share (<see cref="WithTelemetry"/>). Nothing is
/// recorded unless a listener (the OpenTelemetry SDK, dotnet-counters) subscribes.
/// </summary>
public static class QlawTelemetry
{
    /// <summary>Name of the activity source and of the meter.</summary>
    public const string Name = "Qlaw";

    /// <summary>Span of one attempt of one agent turn (a run step).</summary>
    public const string AgentTurnSpan = "qlaw.agent_turn";

    /// <summary>Span tag of the run id (spans only: it has too many values for a metric).</summary>
    public const string RunIdTag = "qlaw.run_id";

    public const string StepTag = "qlaw.step";

    public const string AttemptTag = "qlaw.attempt";

    public const string AgentTag = "qlaw.agent";

    public const string OutcomeTag = "qlaw.outcome";

    /// <summary>On <c>qlaw.runs.failed</c>: true when the run waits for <c>continue</c>, false when it stopped for good.</summary>
    public const string DeadLetteredTag = "qlaw.dead_lettered";

    public static ActivitySource Source { get; } = new(Name);

    private static readonly Meter Meter = new(Name);

    internal static Counter<long> RunsStarted { get; } = Meter.CreateCounter<long>("qlaw.runs.started", "{run}", "Runs that began their first turn.");

    internal static Counter<long> RunsCompleted { get; } = Meter.CreateCounter<long>("qlaw.runs.completed", "{run}", "Runs that completed.");

    internal static Counter<long> RunsFailed { get; } =
        Meter.CreateCounter<long>("qlaw.runs.failed", "{run}", "Runs that failed: dead-lettered (continue can resume them) or stopped for good.");

    internal static Counter<long> RunsCancelled { get; } = Meter.CreateCounter<long>("qlaw.runs.cancelled", "{run}", "Runs cancelled through the API.");

    internal static Counter<long> Steps { get; } = Meter.CreateCounter<long>("qlaw.steps", "{attempt}", "Step attempts that ended, by agent and outcome.");

    internal static Counter<long> StepRetries { get; } = Meter.CreateCounter<long>("qlaw.step.retries", "{attempt}", "Step attempts after the first, by agent.");

    internal static UpDownCounter<long> OpenStreams { get; } = Meter.CreateUpDownCounter<long>("qlaw.streams.open", "{stream}", "Run event streams being followed now: SSE clients and /v1/responses calls waiting for the end.");

    internal static Counter<long> RunsAbandoned { get; } = Meter.CreateCounter<long>("qlaw.runs.abandoned", "{run}", "Dead-lettered runs abandoned after Recovery:AbandonDeadLettersAfterSeconds.");

    internal static Counter<long> RunsRecovered { get; } = Meter.CreateCounter<long>("qlaw.runs.recovered", "{run}", "Runs re-driven from PostgreSQL by the reconciler.");

    private static int _stuckRuns;

    private static readonly ObservableGauge<int> StuckRuns =
        Meter.CreateObservableGauge("qlaw.runs.stuck", () => Volatile.Read(ref _stuckRuns), "{run}", "Queued or running runs without a sign of life past the stale threshold at the last reconcile pass.");

    /// <summary>Records how many stuck runs the last reconcile pass found.</summary>
    internal static void ReportStuckRuns(int count) => Volatile.Write(ref _stuckRuns, count);

    /// <summary>Counts a run event stream as open until the returned value is disposed.</summary>
    internal static OpenStream TrackOpenStream()
    {
        OpenStreams.Add(1);
        return new OpenStream();
    }

    /// <summary>
    /// <paramref name="client"/> inside Microsoft.Extensions.AI's OpenTelemetry client, on Qlaw's source and meter: a
    /// <c>chat {model}</c> span per model call (OpenTelemetry's gen_ai conventions), a child of its turn's
    /// <see cref="AgentTurnSpan"/>, and the <c>gen_ai.client.*</c> metrics. Keep the result as long as the process: it owns
    /// its meter, and a meter disposed while other turns still record into the same instruments loses their measurements.
    /// </summary>
    internal static IChatClient WithTelemetry(this IChatClient client) => client.AsBuilder().UseOpenTelemetry(sourceName: Name).Build();

    /// <summary>Log scope of a run step (<c>run_id</c>, <c>step</c>), so every line logged during a turn names both.</summary>
    internal static Dictionary<string, object> StepScope(Guid runId, int step) => new() { ["run_id"] = runId, ["step"] = step };
}

/// <summary>An open run event stream, counted in <c>qlaw.streams.open</c> until disposed.</summary>
internal readonly struct OpenStream : IDisposable
{
    public void Dispose() => QlawTelemetry.OpenStreams.Add(-1);
}
