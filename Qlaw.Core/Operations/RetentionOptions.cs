using System.ComponentModel.DataAnnotations;

namespace Qlaw.Core.Operations;

/// <summary>How long ended runs, and their Durable Task history, are kept (section <c>Retention</c>), applied live.</summary>
public sealed class RetentionOptions
{
    /// <summary>
    /// Ended runs (completed, cancelled, failed for good) whose end is older than this many seconds are deleted with
    /// everything they wrote, and their Durable Task history purged (604800: a week). 0 (the default): kept forever.
    /// </summary>
    [Range(0, 315_360_000)]
    public int DeleteRunsAfterSeconds { get; set; }

    /// <summary>Runs deleted per transaction.</summary>
    [Range(1, 10_000)]
    public int BatchSize { get; set; } = 200;

    /// <summary>Most batches per pass, so one pass stays short however much has aged out.</summary>
    [Range(1, 10_000)]
    public int MaxBatchesPerPass { get; set; } = 50;

    /// <summary>How often Qlaw.Server looks for runs to delete (Qlaw.Functions: hourly timer).</summary>
    [Range(1, 86_400)]
    public int IntervalSeconds { get; set; } = 3600;

    /// <summary>
    /// The Durable Task hub's history of an orchestration that ended (completed, failed or terminated) is purged once
    /// the orchestration was created this many seconds ago. PostgreSQL keeps the run, its steps, events and audit
    /// trail; the hub's copy only serves the engine while the run is under way, and a hub that keeps every ended
    /// instance grows without bound (Azurite, which the launcher runs, slows down as its tables grow). A run resumed
    /// later is seeded again from PostgreSQL. 0: the history is kept until the run itself is deleted (<see cref="DeleteRunsAfterSeconds"/>).
    /// </summary>
    [Range(0, 31_536_000)]
    public int HubHistorySeconds { get; set; } = 60;

    /// <summary>How often Qlaw.Server purges ended hub history (Qlaw.Functions: with each recovery pass).</summary>
    [Range(1, 86_400)]
    public int HubHistoryIntervalSeconds { get; set; } = 30;
}
