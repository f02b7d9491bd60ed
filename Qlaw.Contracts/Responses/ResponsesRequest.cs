using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Qlaw.Contracts.Responses;

/// <summary>
/// Body of <c>POST /v1/responses</c>, the QLAW CLI's call: <c>model</c> names a workflow (id or name), <c>input</c> is
/// the user's text (a string, or OpenAI-style input items).
/// </summary>
public sealed record ResponsesRequest
{
    [Required, StringLength(100, MinimumLength = 1)]
    public string Model { get; init; } = "";

    public JsonElement Input { get; init; }

    /// <summary>True: answer with the run's event stream; false (default): wait and answer one response object.</summary>
    public bool? Stream { get; init; }

    /// <summary>Continues the run of that response when it awaits input, else starts a follow-up run with its conversation.</summary>
    [StringLength(100)]
    public string? PreviousResponseId { get; init; }

    /// <summary>
    /// Groups runs (a string or <c>{id}</c>, 1–100 characters): a message answers the conversation's latest run when it
    /// awaits input, else starts a follow-up run carrying the conversation.
    /// </summary>
    public JsonElement? Conversation { get; init; }

    /// <summary>True: answer at once with the response (<c>queued</c> or <c>in_progress</c>); the run goes on durably.</summary>
    public bool? Background { get; init; }

    /// <summary>Qlaw keeps every run: <c>false</c> is refused.</summary>
    public bool? Store { get; init; }

    /// <summary>
    /// The other OpenAI parameters (<c>instructions</c>, <c>temperature</c>, <c>tools</c>, …): accepted and ignored — a
    /// workflow's agents have their own — and named in the answer's <c>Qlaw-Ignored-Parameters</c> header.
    /// </summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Ignored { get; init; }

    /// <summary>The names of the ignored parameters that were given a value (at most 20, each a plain name).</summary>
    public IEnumerable<string> IgnoredNames() =>
        (Ignored ?? []).Where(p => p.Value.ValueKind != JsonValueKind.Null && IsPlainName(p.Key)).Select(p => p.Key).Order(StringComparer.Ordinal).Take(20);

    // Only names an HTTP header can carry as they are: OpenAI's are lower-case words joined by '_'.
    private static bool IsPlainName(string name) =>
        name.Length is > 0 and <= 40 && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_');
}

/// <summary>An agent of a stored workflow, as <c>GET /v1/agents</c> lists it.</summary>
public sealed record AgentInfo(string Id, string Name, string Instructions, string? Model);
