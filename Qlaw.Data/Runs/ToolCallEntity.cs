using Qlaw.Contracts;

namespace Qlaw.Data.Runs;

/// <summary>
/// Row of <c>tool_calls</c>: one call of an MCP tool by an agent, recorded before it runs and when it returns, so that
/// a retried, resumed or forked turn replays its result instead of calling again.
/// </summary>
public sealed class ToolCallEntity
{
    public long Id { get; set; }

    public Guid RunId { get; set; }

    /// <summary>The step whose turn made the call.</summary>
    public int StepIndex { get; set; }

    public int Attempt { get; set; }

    public required string Agent { get; set; }

    /// <summary>The model's id of the call, given back with its result.</summary>
    public required string CallId { get; set; }

    /// <summary>The granted name, <c>server/tool</c>.</summary>
    public required string Tool { get; set; }

    /// <summary>The arguments the model gave, as a JSON object.</summary>
    public required string Arguments { get; set; }

    public ToolCallStatus Status { get; set; }

    /// <summary>What the model is given back: the server's content (capped), a denial, or the tool's error.</summary>
    public string? Result { get; set; }

    /// <summary>The server answered with an error (or the call timed out); the model sees it as the result.</summary>
    public bool IsError { get; set; }

    /// <summary>Why a person approved or denied the call.</summary>
    public string? DecisionReason { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? CompletedAt { get; set; }
}
