using System.Text.Json.Serialization;

namespace Qlaw.Contracts.Events;

/// <summary><c>response.created</c>: the first event of a <c>/v1/responses</c> stream — which response (run) it is.</summary>
[RunEvent(Name)]
public sealed record ResponseCreated(ResponseSummary Response, int SequenceNumber)
{
    public const string Name = "response.created";

    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = Name;
}

/// <summary><c>response.in_progress</c>: follows <see cref="ResponseCreated"/>; the run is under way.</summary>
[RunEvent(Name)]
public sealed record ResponseInProgress(ResponseSummary Response, int SequenceNumber)
{
    public const string Name = "response.in_progress";

    [JsonPropertyOrder(-1)]
    public string Type { get; init; } = Name;
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
}
