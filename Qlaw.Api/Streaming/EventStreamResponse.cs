namespace Qlaw.Api.Streaming;

/// <summary>
/// Marks a route whose 200 answer can be a <c>text/event-stream</c>: the OpenAPI document lists that content beside
/// the route's JSON answer (ASP.NET Core's <c>Produces</c> keeps one content type per status code with no type).
/// </summary>
public sealed record EventStreamResponse(string Description)
{
    /// <summary>The run's log as SSE (<c>GET /v1/runs/{id}/responses</c>).</summary>
    public static EventStreamResponse RunLog { get; } = new("The run's events as Server-Sent Events (docs/events.md).");

    /// <summary>A run framed as an OpenAI Responses stream.</summary>
    public static EventStreamResponse Response { get; } = new("The run framed as an OpenAI Responses stream, when stream is true (docs/events.md#response-framing).");
}
