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

    /// <summary>
    /// <c>max_output_tokens</c> of every model call whose workflow and agent set none, so that no call is bounded only by
    /// the model's own maximum (kept within <see cref="MaxOutputTokens"/>).
    /// </summary>
    [Range(1, 200_000)]
    public int DefaultMaxOutputTokens { get; set; } = 4096;

    /// <summary>Highest <c>retry.max_attempts</c> a workflow may set (and the ceiling of <c>Runs:MaxAttempts</c>).</summary>
    [Range(1, 20)]
    public int MaxAttempts { get; set; } = 10;

    /// <summary>Highest <c>limits.max_total_tokens</c> a workflow may set; a run's budget when its workflow sets none.</summary>
    [Range(1, int.MaxValue)]
    public int MaxTotalTokens { get; set; } = 1_000_000;

    /// <summary>Most characters one turn's text may reach; past it the turn fails.</summary>
    [Range(1000, 10_000_000)]
    public int MaxTurnChars { get; set; } = 200_000;

    /// <summary>Most tool calls one agent turn may make (and the highest <c>limits.max_tool_calls_per_turn</c>); past it the model is told a call did not run.</summary>
    [Range(1, 1000)]
    public int MaxToolCallsPerTurn { get; set; } = 16;

    /// <summary>How long one tool call may take; a call stopped by it gives the model an error as its result.</summary>
    [Range(1, 3600)]
    public int ToolCallTimeoutSeconds { get; set; } = 60;

    /// <summary>How long one turn's tool calls may take together; later calls do not run.</summary>
    [Range(1, 86_400)]
    public int ToolTurnSeconds { get; set; } = 600;

    /// <summary>Most characters of a tool's result kept and given to the model; the rest is cut.</summary>
    [Range(100, 1_000_000)]
    public int MaxToolResultChars { get; set; } = 20_000;

    /// <summary>Most workflows that may exist at once; creating another is refused with 409 until one is deleted.</summary>
    [Range(1, 1_000_000)]
    public int MaxWorkflows { get; set; } = 1000;

    /// <summary>
    /// Most bytes all stored workflow definitions may take (deleted ones included until retention removes them with
    /// their last run); a definition that would pass it is refused with 409. Each definition is at most <c>Http:MaxRequestBodyBytes</c>.
    /// </summary>
    [Range(1024, long.MaxValue)]
    public long MaxWorkflowBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Characters of each step's output in <c>GET /v1/runs/{id}/status</c>; longer ones are cut there
    /// (<c>output_truncated</c>) and read whole from <c>GET /v1/runs/{id}/steps</c>.
    /// </summary>
    [Range(0, 200_000)]
    public int StatusOutputChars { get; set; } = 2000;

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
