using System.Text.Json.Serialization;
using Qlaw.Contracts.Events;

namespace Qlaw.Contracts.Responses;

/// <summary>
/// A run as an OpenAI Responses <c>response</c> object — what <c>POST /v1/responses</c> answers, <c>GET /v1/responses/{id}</c>
/// returns and the framed stream's lifecycle events carry: <c>output</c> holds one message per agent turn (and a function call per tool call), <c>usage</c>
/// the tokens the model reported (null when it reported none). The fields OpenAI's clients expect but a workflow has no
/// use for carry their neutral values; <c>run_id</c> and <c>workflow</c> are Qlaw's own.
/// </summary>
public sealed record ResponseObject(
    string Id, long CreatedAt, string Status, string Model, IReadOnlyList<OutputItem> Output,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] ResponseUsage? Usage,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] ResponseErrorBody? Error,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] IncompleteDetails? IncompleteDetails,
    bool Background, string RunId, string Workflow)
{
    [JsonPropertyOrder(-1), JsonPropertyName("object")]
    public string ObjectType { get; init; } = "response";

    /// <summary>Every turn's text, in order (the SDKs' convenience field).</summary>
    public string OutputText => string.Concat(Output.OfType<OutputMessage>().SelectMany(m => m.Content).Select(c => c.Text));

    public bool ParallelToolCalls { get; init; }

    public string ToolChoice { get; init; } = "auto";

    public IReadOnlyList<object> Tools { get; init; } = [];

    public bool Store { get; init; } = true;

    public string Truncation { get; init; } = "disabled";

    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    public ResponseTextSettings Text { get; init; } = new(new("text"));

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Instructions { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? PreviousResponseId { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public double? Temperature { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public double? TopP { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public int? MaxOutputTokens { get; init; }
}

/// <summary>The tokens of a response: as the model reported them, summed over its turns.</summary>
public sealed record ResponseUsage(long InputTokens, long OutputTokens)
{
    public long TotalTokens => InputTokens + OutputTokens;

    public InputTokenDetails InputTokensDetails { get; init; } = new(0);

    public OutputTokenDetails OutputTokensDetails { get; init; } = new(0);
}

public sealed record InputTokenDetails(long CachedTokens);

public sealed record OutputTokenDetails(long ReasoningTokens);

/// <summary>Why a response is incomplete: <c>awaiting_input</c> (the run asks a question) or <c>cancelled</c>.</summary>
public sealed record IncompleteDetails(string Reason);

public sealed record ResponseTextSettings(ResponseTextFormat Format);

public sealed record ResponseTextFormat(string Type);

/// <summary>Answer to <c>DELETE /v1/responses/{id}</c>: the response and its run are gone.</summary>
public sealed record ResponseDeleted(string Id)
{
    [JsonPropertyOrder(-1), JsonPropertyName("object")]
    public string ObjectType { get; init; } = "response.deleted";

    public bool Deleted { get; init; } = true;
}
