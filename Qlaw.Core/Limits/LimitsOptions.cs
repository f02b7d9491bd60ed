using System.ComponentModel.DataAnnotations;

namespace Qlaw.Core.Limits;

/// <summary>
/// Server ceilings (section <c>Limits</c>), applied live: what one workflow may ask for, and how many runs may be
/// active (queued, running or awaiting input) at once. A workflow over a ceiling is refused with 400 naming the field;
/// a run over an active-run cap is refused with 429 and <c>Retry-After</c>.
/// </summary>
public sealed class LimitsOptions
{
    /// <summary>Highest <c>limits.max_steps</c> a workflow may set.</summary>
    [Range(1, 1000)]
    public int MaxSteps { get; set; } = 100;

    /// <summary>Highest <c>model.max_output_tokens</c> a workflow or agent may set.</summary>
    [Range(1, 200_000)]
    public int MaxOutputTokens { get; set; } = 16_384;

    /// <summary>Highest <c>retry.max_attempts</c> a workflow may set (and the ceiling of <c>Runs:MaxAttempts</c>).</summary>
    [Range(1, 20)]
    public int MaxAttempts { get; set; } = 10;

    /// <summary>Highest <c>limits.max_total_tokens</c> a workflow may set; a run's budget when its workflow sets none.</summary>
    [Range(1, int.MaxValue)]
    public int MaxTotalTokens { get; set; } = 1_000_000;

    /// <summary>Most characters one turn's text may reach; past it the turn fails.</summary>
    [Range(1000, 10_000_000)]
    public int MaxTurnChars { get; set; } = 200_000;

    /// <summary>Most runs active at once on the server (all clients).</summary>
    [Range(1, 1_000_000)]
    public int MaxActiveRuns { get; set; } = 1000;

    /// <summary>Most runs one client address may have active at once.</summary>
    [Range(1, 1_000_000)]
    public int MaxActiveRunsPerClient { get; set; } = 100;

    /// <summary>
    /// Most events a stream may fall behind its run: a reader further behind is dropped (its stream ends with a
    /// <c>: lagging</c> comment) and resumes with <c>Last-Event-ID</c>, so a slow reader never holds more than this.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxQueuedEventsPerStream { get; set; } = 10_000;

    /// <summary>The <c>Retry-After</c> of a run refused by an active-run cap.</summary>
    [Range(1, 3600)]
    public int ActiveRunsRetryAfterSeconds { get; set; } = 10;
}
