using System.ComponentModel.DataAnnotations;

namespace Qlaw.Contracts.Workflows;

/// <summary>
/// One turn of a scripted agent (provider <c>scripted</c>): what it says, how it routes and how it fails. An agent's
/// n-th turn plays <c>script[n]</c>, the last entry repeating; without a script the role's default behaviour plays.
/// </summary>
public sealed record ScriptedTurn
{
    [StringLength(20_000)]
    public string? Say { get; init; }

    /// <summary>
    /// Routing call: <c>handoff_to_&lt;agent&gt;</c>, <c>consult_&lt;agent&gt;</c>, <c>return_to_previous</c>,
    /// <c>request_input</c> or <c>complete</c>; none ends the turn (default edge).
    /// </summary>
    [StringLength(64), RegularExpression("^(handoff_to_[a-z][a-z0-9_]*|consult_[a-z][a-z0-9_]*|return_to_previous|request_input|complete)$")]
    public string? Call { get; init; }

    /// <summary>The first this many attempts of the turn fail with a transient error (retried with backoff).</summary>
    [Range(0, 100)]
    public int? FailTransient { get; init; }

    /// <summary>Every attempt of the turn fails with a permanent error (no retry).</summary>
    public bool? FailPermanent { get; init; }

    /// <summary>
    /// Tool calls made before the text: the turn calls them first, then (given their results) says <see cref="Say"/>
    /// and makes its routing call. <c>{run_id}</c> in an argument's text is the run's id.
    /// </summary>
    [MaxLength(16)]
    public IReadOnlyList<ScriptedToolCall>? ToolCalls { get; init; }

    /// <summary>Prompt shown with <c>request_input</c>.</summary>
    [StringLength(2000)]
    public string? Prompt { get; init; }
}

/// <summary>A tool call of a scripted turn: a granted tool (<c>server/tool</c>) and its arguments.</summary>
public sealed record ScriptedToolCall
{
    [Required, StringLength(200)]
    public string Tool { get; init; } = "";

    public System.Text.Json.JsonElement? Arguments { get; init; }
}
