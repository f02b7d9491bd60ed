using System.Text.Json.Serialization;
using Qlaw.Contracts.Responses;

namespace Qlaw.Contracts.Events;

/// <summary>
/// A lifecycle event of a <c>/v1/responses</c> stream, carrying the whole response object as it stands:
/// <c>response.created</c> and <c>response.in_progress</c> open the stream, <c>response.completed</c>,
/// <c>response.incomplete</c> (a question, a cancel) or <c>response.failed</c> end it.
/// </summary>
[RunEvent("response.created", "response.in_progress", "response.incomplete", "response.failed")]
public sealed record ResponseLifecycle(string Type, ResponseObject Response, int SequenceNumber)
{
    public const string Created = "response.created";
    public const string InProgress = "response.in_progress";
    public const string Incomplete = "response.incomplete";
    public const string Failed = "response.failed";
}

/// <summary>
/// <c>response.content_part.added</c> / <c>response.content_part.done</c>: the turn's <c>output_text</c> part opens
/// (empty) and closes (with the turn's text, nested in <c>part</c>).
/// </summary>
[RunEvent("response.content_part.added", "response.content_part.done")]
public sealed record ContentPart(string Type, string ItemId, int OutputIndex, int ContentIndex, OutputText Part, int SequenceNumber)
{
    public const string Added = "response.content_part.added";
    public const string Done = "response.content_part.done";
}

/// <summary>
/// <c>response.output_text.done</c>: a turn's whole text (its top-level <c>text</c> is why the stream names it
/// <c>response.completed</c> on its <c>event:</c> line, which the QLAW CLI passes over).
/// </summary>
[RunEvent(Name)]
public sealed record OutputTextDone(string ItemId, int OutputIndex, int ContentIndex, string Text, int SequenceNumber)
{
    public const string Name = "response.output_text.done";

    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = Name;
}

/// <summary><c>error</c>: OpenAI's stream error, sent before <c>response.failed</c>; the QLAW CLI shows its <c>message</c>.</summary>
[RunEvent(Name)]
public sealed record StreamError(string Code, string Message, int SequenceNumber)
{
    public const string Name = "error";

    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = Name;

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Param { get; init; }
}

/// <summary><c>response.output_item.added</c>: an agent's turn (one attempt of one step) begins on a <c>/v1/responses</c> stream.</summary>
[RunEvent(Name)]
public sealed record OutputItemAdded(int OutputIndex, OutputMessage Item, int SequenceNumber)
{
    public const string Name = "response.output_item.added";

    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = Name;
}

/// <summary><c>response.output_item.done</c>: the turn ended (<c>completed</c>) or stopped (<c>incomplete</c>).</summary>
[RunEvent(Name)]
public sealed record OutputItemDone(int OutputIndex, OutputMessage Item, int SequenceNumber)
{
    public const string Name = "response.output_item.done";

    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = Name;
}

/// <summary>An agent's turn as an OpenAI Responses output message; its text is nested in <c>content</c>.</summary>
/// <remarks>The item's id names the turn's step and attempt (<c>msg_{run}_{step}_{attempt}</c>).</remarks>
public sealed record OutputMessage(string Id, string Status, string Agent, int Step, int Attempt, IReadOnlyList<OutputText> Content)
{
    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = "message";

    public string Role { get; init; } = "assistant";
}

/// <summary>One <c>output_text</c> part of an <see cref="OutputMessage"/>.</summary>
public sealed record OutputText(string Text)
{
    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = "output_text";

    public IReadOnlyList<object> Annotations { get; init; } = [];
}
