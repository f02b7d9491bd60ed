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

/// <summary>
/// <c>response.output_item.added</c>: on a <c>/v1/responses</c> stream, an agent's turn (one attempt of one step) begins
/// (a <c>message</c>), or the agent called one of its tools (a <c>function_call</c>).
/// </summary>
[RunEvent(Name)]
public sealed record OutputItemAdded(int OutputIndex, OutputItem Item, int SequenceNumber)
{
    public const string Name = "response.output_item.added";

    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = Name;
}

/// <summary><c>response.output_item.done</c>: the turn ended (<c>completed</c>) or stopped (<c>incomplete</c>).</summary>
[RunEvent(Name)]
public sealed record OutputItemDone(int OutputIndex, OutputItem Item, int SequenceNumber)
{
    public const string Name = "response.output_item.done";

    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = Name;
}

/// <summary>An item of a response's <c>output</c>, told apart by its <c>type</c>.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(OutputMessage), "message")]
[JsonDerivedType(typeof(OutputFunctionCall), "function_call")]
public abstract record OutputItem(string Id, string Status);

/// <summary>An agent's turn as an OpenAI Responses output message; its text is nested in <c>content</c>.</summary>
/// <remarks>The item's id names the turn's step and attempt (<c>msg_{run}_{step}_{attempt}</c>).</remarks>
public sealed record OutputMessage(string Id, string Status, string Agent, int Step, int Attempt, IReadOnlyList<OutputText> Content) : OutputItem(Id, Status)
{
    public string Role { get; init; } = "assistant";
}

/// <summary>
/// A call of one of an agent's MCP tools as an OpenAI Responses <c>function_call</c> item: <c>name</c> is the tool
/// (<c>server/tool</c>), <c>arguments</c> the JSON text the model gave. Qlaw runs the call; its result follows as a
/// <c>ToolResultEvent</c> trace.
/// </summary>
public sealed record OutputFunctionCall(string Id, string Status, string CallId, string Name, string Arguments, string Agent, int Step, int Attempt) : OutputItem(Id, Status);

/// <summary><c>response.function_call_arguments.delta</c>: the arguments of a <c>function_call</c> item (whole, in one delta).</summary>
[RunEvent(Name)]
public sealed record FunctionCallArgumentsDelta(string ItemId, int OutputIndex, string Delta, int SequenceNumber)
{
    public const string Name = "response.function_call_arguments.delta";

    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = Name;
}

/// <summary><c>response.function_call_arguments.done</c>: a <c>function_call</c> item's arguments are complete.</summary>
[RunEvent(Name)]
public sealed record FunctionCallArgumentsDone(string ItemId, int OutputIndex, [property: JsonPropertyName("name")] string Tool, string Arguments, int SequenceNumber)
{
    public const string Name = "response.function_call_arguments.done";

    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = Name;
}

/// <summary>One <c>output_text</c> part of an <see cref="OutputMessage"/>.</summary>
public sealed record OutputText(string Text)
{
    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = "output_text";

    public IReadOnlyList<object> Annotations { get; init; } = [];
}
