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

    /// <summary>A queued or running run quiet this long is re-driven; keep it above <c>Runs:MaxRetryIntervalMs</c> and a few heartbeats.</summary>
    [Range(2, 86_400)]
    public int StaleAfterSeconds { get; set; } = 120;

    /// <summary>A run quiet for this long has its orchestration checked; a missing, failed or terminated one is re-driven at once.</summary>
    [Range(1, 86_400)]
    public int ProbeAfterSeconds { get; set; } = 15;

    /// <summary>A running agent turn refreshes its step's heartbeat this often.</summary>
    [Range(1, 3600)]
    public int HeartbeatSeconds { get; set; } = 10;

    /// <summary>
    /// A dead letter (failed, waiting for <c>continue</c>) unchanged this long ends for good (<c>run.abandoned</c>), its
    /// orchestration terminated and purged; retention deletes it like any ended run. Until then it counts as active.
    /// </summary>
    [Range(1, 31_536_000)]
    public int AbandonDeadLettersAfterSeconds { get; set; } = 86_400;

    /// <summary>Runs looked at per reconcile pass.</summary>
    [Range(1, 10_000)]
    public int BatchSize { get; set; } = 100;

    /// <summary>
    /// Test-only fault hook, never set in production: the process dies at <c>RunCommitted</c> (a run or fork committed,
    /// not scheduled) or <c>SignalRaised</c> (an outbox signal raised on the hub, its delivery not recorded).
    /// </summary>
    [AllowedValues(null, RunCommitted, SignalRaised)]
    public string? CrashAt { get; set; }

    internal const string RunCommitted = nameof(RunCommitted), SignalRaised = nameof(SignalRaised);

    internal void CrashIf(string point)
    {
        if (CrashAt == point)
        {
            Environment.FailFast($"Fault injection (Recovery:CrashAt = {point}).");
        }
    }
}
