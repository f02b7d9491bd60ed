using System.Text.Json.Serialization;

namespace Qlaw.Contracts.Events;

/// <summary>
/// <c>response.output_text.delta</c>: a chunk of an agent's text, the only payload with a top-level <c>delta</c>.
/// <paramref name="Heading"/> marks the line a <c>/v1/responses</c> stream adds before a turn's text to name its agent.
/// </summary>
[RunEvent(Name)]
public sealed record OutputTextDelta(string Delta, string ItemId, int OutputIndex, int ContentIndex, string Agent, int? Attempt, bool? Heading = null)
{
    public const string Name = "response.output_text.delta";

    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = Name;
}

/// <summary><c>response.trace.complete</c>: a workflow trace in Agent Framework's vocabulary.</summary>
[RunEvent(Name)]
public sealed record TraceComplete(WorkflowTrace Data)
{
    public const string Name = "response.trace.complete";

    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = Name;
}

/// <summary>The body of a trace: its Agent Framework <c>event_type</c>, the agent, and the event's own data.</summary>
public sealed record WorkflowTrace(string TraceType, string EventType, string? ExecutorId, object Data);

/// <summary><c>response.completed</c>: the run ended or paused (<c>awaiting_input</c>).</summary>
[RunEvent(Name)]
public sealed record ResponseCompleted(ResponseSummary Response)
{
    public const string Name = "response.completed";

    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = Name;
}

/// <summary>The response a <c>response.*</c> event describes: a run, by its <c>resp_…</c> id.</summary>
public sealed record ResponseSummary(string Id, string Status, string? OutputText = null, string? RunId = null, string? Model = null, string? Workflow = null, long? CreatedAt = null)
{
    [JsonPropertyOrder(-1), JsonPropertyName("object")]
    public string ObjectType { get; init; } = "response";
}

/// <summary>
/// <c>response.error</c>: the run failed; a stable code and a safe message, in both shapes the QLAW CLI reads
/// (<c>error.message</c> for the named event, <c>message</c> for data-only readers).
/// </summary>
[RunEvent(Name)]
public sealed record ResponseError(string Code, string Message, ResponseErrorBody Error)
{
    public const string Name = "response.error";

    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = Name;
}

/// <summary>The nested <c>error</c> of <see cref="ResponseError"/>.</summary>
public sealed record ResponseErrorBody(string Code, string Message);
