using System.ComponentModel.DataAnnotations;
using System.Text.Json;

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
}

/// <summary>An agent of a stored workflow, as <c>GET /v1/agents</c> lists it.</summary>
public sealed record AgentInfo(string Id, string Name, string Instructions, string? Model);
