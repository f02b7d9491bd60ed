using System.ComponentModel.DataAnnotations;

namespace Qlaw.Core.Configuration;

/// <summary>Self-healing of runs (section <c>Recovery</c>), applied live.</summary>
public sealed class RecoveryOptions
{
    /// <summary>How often undelivered outbox signals (schedule, continue, terminate) are retried.</summary>
    [Range(100, 600_000)]
    public int DispatchIntervalMs { get; set; } = 1000;

    /// <summary>How often the reconciler looks for runs that should be progressing but are not.</summary>
    [Range(1, 3600)]
    public int ReconcileIntervalSeconds { get; set; } = 10;

    /// <summary>
    /// A queued or running run with no step, event or heartbeat for this long is re-driven, whatever its orchestration
    /// says. Keep it above the longest retry backoff (<c>Runs:MaxRetryIntervalMs</c>) and a few heartbeats.
    /// </summary>
    [Range(2, 86_400)]
    public int StaleAfterSeconds { get; set; } = 120;

    /// <summary>A run quiet for this long has its orchestration checked; a missing, failed or terminated one is re-driven at once.</summary>
    [Range(1, 86_400)]
    public int ProbeAfterSeconds { get; set; } = 15;

    /// <summary>A running agent turn refreshes its step's heartbeat this often.</summary>
    [Range(1, 3600)]
    public int HeartbeatSeconds { get; set; } = 10;

    /// <summary>
    /// A dead-lettered run (failed, waiting for <c>continue</c>) is abandoned after this long without a change: the run
    /// ends for good (<c>run.abandoned</c>; <c>continue</c> answers 409), its orchestration is terminated and, once ended,
    /// purged with the hub's history, and retention deletes it like any ended run. Until then it counts as active.
    /// </summary>
    [Range(1, 31_536_000)]
    public int AbandonDeadLettersAfterSeconds { get; set; } = 86_400;

    /// <summary>Runs looked at per reconcile pass.</summary>
    [Range(1, 10_000)]
    public int BatchSize { get; set; } = 100;

    /// <summary>
    /// Test-only fault hook: the process dies right after a new run is committed and before its orchestration is
    /// scheduled. Never set it in production.
    /// </summary>
    public bool CrashAfterRunCommitted { get; set; }

    /// <summary>
    /// Test-only fault hook: the process dies right after an outbox signal is raised on the hub and before its
    /// delivery is recorded, so it is raised again after the restart. Never set it in production.
    /// </summary>
    public bool CrashAfterSignalRaised { get; set; }
}
