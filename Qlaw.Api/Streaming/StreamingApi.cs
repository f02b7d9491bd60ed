using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Qlaw.Api.Http;
using Qlaw.Api.Runs;
using Qlaw.Contracts;
using Qlaw.Contracts.Responses;
using Qlaw.Core.Paging;
using Qlaw.Core.Responses;
using Qlaw.Core.Streaming;
using Qlaw.Core.Workflows;

namespace Qlaw.Api.Streaming;

/// <summary>Run event streams and the endpoints the QLAW CLI calls: /v1/responses, send_responses, /v1/agents.</summary>
public static class StreamingApi
{
    /// <summary>Names the OpenAI parameters of a <c>POST /v1/responses</c> that Qlaw accepted and ignored.</summary>
    public const string IgnoredParametersHeader = "Qlaw-Ignored-Parameters";

    public static IEndpointRouteBuilder MapStreaming(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/v1/runs/{id}/responses", StreamRun).WithTags("Streaming").WithName(nameof(StreamRun)).WithMetadata(EventStreamResponse.RunLog)
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        routes.MapPost("/v1/responses", CreateResponse).WithTags("Responses").WithName(nameof(CreateResponse)).ReadsJsonBody().RequireRateLimiting(RateLimiting.RunCreation)
            .Produces<ResponseObject>().WithMetadata(EventStreamResponse.Response).ProducesAnswer();
        routes.MapPost("/v1/workflows/{id}/send_responses", SendResponses).WithTags("Responses").WithName(nameof(SendResponses)).ReadsJsonBody().RequireRateLimiting(RateLimiting.RunCreation)
            .Produces<ResponseObject>().WithMetadata(EventStreamResponse.Response).ProducesAnswer();
        routes.MapGet("/v1/agents", ListAgents).WithTags("Responses").WithName(nameof(ListAgents));
        return routes;
    }

    /// <summary>The run's events from the start, or after <c>Last-Event-ID</c> / <c>?starting_after=</c>, then live.</summary>
    public static async Task<IResult> StreamRun(
        string id, [FromQuery(Name = "starting_after")] long? startingAfter, HttpContext http, RunStreamReader reader, CancellationToken cancellationToken)
    {
        var request = http.Request;
        if (!Guid.TryParse(id, out var runId) || !await reader.RunExistsAsync(runId, cancellationToken))
        {
            return RunResults.RunNotFound(id);
        }

        if (!TryReadLastEventId(request, out var lastEventId))
        {
            return BadLastEventId();
        }

        if (lastEventId is null && startingAfter is < 0)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["starting_after"] = ["Give the id of the last event received."] });
        }

        var after = lastEventId ?? startingAfter ?? 0;
        return await StreamSlots.OpenAsync(http, slot => RunEventStreamResult.OfRows(reader.ReadAsync(runId, after, cancellationToken), slot));
    }

    /// <summary>
    /// Starts a run of the workflow named by <c>model</c>, or answers the run the message is for (a conversation, a
    /// previous response, or the same client's question); streams it — a retry with <c>Last-Event-ID</c> from after that
    /// event — or answers when it ends.
    /// </summary>
    public static async Task<IResult> CreateResponse(
        ResponsesRequest request, HttpContext http, ResponsesService responses, CancellationToken cancellationToken)
    {
        if (!TryReadLastEventId(http.Request, out var lastEventId))
        {
            return BadLastEventId();
        }

        if (request.IgnoredNames().ToList() is { Count: > 0 } ignored)
        {
            http.Response.Headers[IgnoredParametersHeader] = string.Join(", ", ignored);
        }

        // A stream slot is taken before the run starts, so a client over its cap starts nothing.
        var stream = request.Stream == true;
        using var slot = await StreamSlots.ReserveAsync(http, stream);
        if (stream && slot.Refused)
        {
            return slot.Refusal;
        }

        var caller = Caller(http, $"{request.Model}\n{request.Stream}\n{request.PreviousResponseId}", request.Input, request.Conversation ?? default);
        var (target, error) = await responses.StartAsync(request, caller, cancellationToken);
        return target is null
            ? RunResults.ToHttp(error!)
            : await Respond(target with { Background = request.Background == true }, slot, request.Model, lastEventId, responses, cancellationToken);
    }

    /// <summary>Answers a workflow's pending request for input and streams the run on (a retry, after <c>Last-Event-ID</c>).</summary>
    public static async Task<IResult> SendResponses(
        string id, JsonElement body, HttpContext http, ResponsesService responses, CancellationToken cancellationToken)
    {
        if (!TryReadLastEventId(http.Request, out var lastEventId))
        {
            return BadLastEventId();
        }

        var stream = !(body.ValueKind == JsonValueKind.Object && body.TryGetProperty("stream", out var flag) && flag.ValueKind == JsonValueKind.False);
        using var slot = await StreamSlots.ReserveAsync(http, stream);
        if (stream && slot.Refused)
        {
            return slot.Refusal;
        }

        var (target, error) = await responses.SendAsync(id, body, Caller(http, "", body), cancellationToken);
        return target is null
            ? RunResults.ToHttp(error!)
            : await Respond(target, slot, id, lastEventId, responses, cancellationToken);
    }

    /// <summary>
    /// The agents of the stored workflows (<c>project_endpoint</c> / <c>foundry_endpoint</c> are accepted and ignored):
    /// with <c>limit</c> or <c>after</c>, one keyset page of workflows' agents; without, the QLAW CLI's plain array of
    /// the agents of the first <see cref="ListPage{T}.MaxLimit"/> workflows.
    /// </summary>
    public static async Task<Results<Ok<List<AgentInfo>>, Ok<ListPage<AgentInfo>>, ValidationProblem>> ListAgents(
        [FromQuery(Name = "project_endpoint")] string? projectEndpoint, [FromQuery(Name = "foundry_endpoint")] string? foundryEndpoint,
        int? limit, string? after, WorkflowCatalog workflows, CancellationToken cancellationToken)
    {
        if (limit is null && after is null)
        {
            var first = await workflows.ListAgentsAsync(new PageRequest(ListPage<object>.MaxLimit, null), cancellationToken);
            return TypedResults.Ok(first.Data.ToList());
        }

        return PageRequest.TryParse(limit, after, out var page, out var errors)
            ? TypedResults.Ok(await workflows.ListAgentsAsync(page, cancellationToken))
            : TypedResults.ValidationProblem(errors);
    }

    // The problems a call that starts or answers a run can end in: no such workflow or run (404), a run in no state to
    // answer (409), an Idempotency-Key sent again with another body (422).
    private static RouteHandlerBuilder ProducesAnswer(this RouteHandlerBuilder builder) =>
        builder.ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);

    // A stream of the run framed as a response; else its response object — at once in the background, else when it
    // ends or pauses.
    private static async Task<IResult> Respond(
        ResponseTarget target, StreamReservation slot, string model, long? lastEventId, ResponsesService responses, CancellationToken cancellationToken) =>
        slot.Wanted
            ? RunEventStreamResult.OfResponse(responses.StreamAsync(target, model, target.Retried ? lastEventId ?? 0 : 0, cancellationToken), slot.Take())
            : TypedResults.Json(target.Background
                ? await responses.DescribeAsync(target, model, cancellationToken)
                : await responses.WaitForResponseAsync(target, model, cancellationToken));

    // Last-Event-ID: the id of the last event the client has (null when not sent); false when it is no event id.
    private static bool TryReadLastEventId(HttpRequest request, out long? lastEventId)
    {
        var header = request.Headers["Last-Event-ID"].ToString();
        lastEventId = null;
        if (header.Length == 0)
        {
            return true;
        }

        if (!long.TryParse(header, out var id) || id < 0)
        {
            return false;
        }

        lastEventId = id;
        return true;
    }

    private static ValidationProblem BadLastEventId() =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["Last-Event-ID"] = ["Give the id of the last event received."] });

    // The client is its address and User-Agent (there is no authentication); the key makes a retry safe.
    private static ResponsesCaller Caller(HttpContext http, string fields, params ReadOnlySpan<JsonElement> body)
    {
        var key = http.Request.Headers["Idempotency-Key"];
        return ResponsesCaller.From(
            RateLimiting.ClientOf(http), http.Request.Headers.UserAgent.ToString(), key.Count == 0 ? null : key.ToString(), fields, body);
    }
}
