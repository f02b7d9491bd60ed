using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Qlaw.Api.Runs;
using Qlaw.Api.Streaming;
using Qlaw.Contracts.Responses;
using Qlaw.Core.Operations;
using Qlaw.Core.Responses;
using Qlaw.Core.RunStore;

namespace Qlaw.Api.Responses;

/// <summary>
/// A run as an OpenAI response, for the OpenAI SDKs' calls: retrieve it (<c>GET /v1/responses/{id}</c>, or its stream
/// from the start with <c>?stream=true</c>, resumed after <c>starting_after</c>), cancel it, delete it.
/// </summary>
public static class ResponsesApi
{
    public static RouteGroupBuilder MapResponses(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/responses/{id}").WithTags("Responses");
        group.MapGet("", GetResponse).WithName(nameof(GetResponse))
            .Produces<ResponseObject>().WithMetadata(EventStreamResponse.Response)
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapDelete("", DeleteResponse).WithName(nameof(DeleteResponse)).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/cancel", CancelResponse).WithName(nameof(CancelResponse))
            .Produces<ResponseObject>().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        return group;
    }

    /// <summary>The response object of the run behind <paramref name="id"/>; with <c>stream=true</c> its events as a Responses stream.</summary>
    public static async Task<IResult> GetResponse(
        string id, bool? stream, [FromQuery(Name = "starting_after")] int? startingAfter, HttpContext http, ResponsesService responses,
        ResponseConversations conversations, CancellationToken cancellationToken)
    {
        if (startingAfter is < -1)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["starting_after"] = ["Give the sequence_number of the last event received."] });
        }

        if (await conversations.ResponseAsync(id, cancellationToken) is not { } target)
        {
            return ResponseNotFound(id);
        }

        if (stream != true)
        {
            return TypedResults.Ok(await responses.DescribeAsync(target, target.Workflow, cancellationToken));
        }

        // The whole run from its start, so that a sequence number always names the same event; then live.
        return await StreamSlots.OpenAsync(http, slot =>
        {
            var frames = responses.StreamAsync(target, target.Workflow, sentThrough: 0, cancellationToken);
            return RunEventStreamResult.OfResponse(startingAfter is { } after ? ResponseFrame.After(frames, after, cancellationToken) : frames, slot);
        });
    }

    /// <summary>Cancels the run behind a response: the response object, now <c>cancelled</c>; 409 when it has ended.</summary>
    public static async Task<IResult> CancelResponse(
        string id, ResponsesService responses, ResponseConversations conversations, CancellationToken cancellationToken)
    {
        if (await conversations.ResponseAsync(id, cancellationToken) is not { } target)
        {
            return ResponseNotFound(id);
        }

        var (response, error) = await responses.CancelAsync(target, cancellationToken);
        return response is not null ? TypedResults.Ok(response) : RunResults.ToHttp(error!);
    }

    /// <summary>Deletes an ended run behind a response, with its history; 409 while it has not ended (cancel it first).</summary>
    public static async Task<Results<Ok<ResponseDeleted>, ProblemHttpResult>> DeleteResponse(
        string id, ResponseConversations conversations, RunRetention retention, CancellationToken cancellationToken)
    {
        if (await conversations.ResponseAsync(id, cancellationToken) is not { } target)
        {
            return ResponseNotFound(id);
        }

        return await retention.DeleteEndedAsync(target.RunId, cancellationToken)
            ? TypedResults.Ok(new ResponseDeleted(RunEvents.ResponseId(target.RunId)))
            : TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The response's run has not ended.", detail: "Cancel it first (POST /v1/responses/{id}/cancel).");
    }

    private static ProblemHttpResult ResponseNotFound(string id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Response not found.", detail: $"No response has the id '{id}'.");
}
