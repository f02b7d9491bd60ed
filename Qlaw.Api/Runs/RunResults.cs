using Microsoft.AspNetCore.Http.HttpResults;
using Qlaw.Contracts;
using Qlaw.Api.Http;
using Qlaw.Core.Runs;

namespace Qlaw.Api.Runs;

/// <summary>The one mapping of run command outcomes to HTTP results.</summary>
public static class RunResults
{
    public static IResult ToHttp(RunCommandResult result) => result switch
    {
        RunCommandResult.Accepted accepted => TypedResults.Accepted(accepted.Run.Links.Status, accepted.Run),
        RunCommandResult.HandoffRecorded handoff => TypedResults.Accepted($"/v1/runs/{handoff.Handoff.RunId}/status", handoff.Handoff),
        RunCommandResult.NotFound notFound => TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found.", detail: notFound.What),
        RunCommandResult.Invalid invalid => TypedResults.ValidationProblem(invalid.Errors),
        RunCommandResult.Conflict conflict => TypedResults.Problem(
            statusCode: StatusCodes.Status409Conflict, title: "The run's state does not allow this.", detail: conflict.Detail,
            extensions: new Dictionary<string, object?> { ["run_status"] = QlawJson.EnumName(conflict.Status) }),
        RunCommandResult.Busy busy => new TooManyRequestsResult(busy.RetryAfter, busy.Title),
        RunCommandResult.KeyReused reused => TypedResults.Problem(new HttpValidationProblemDetails(
            new Dictionary<string, string[]> { ["Idempotency-Key"] = [reused.Detail] })
        {
            Status = StatusCodes.Status422UnprocessableEntity,
            Title = "The Idempotency-Key belongs to another request.",
            Detail = reused.Detail,
        }),
        _ => throw new InvalidOperationException($"Unexpected result {result}."),
    };

    /// <summary>
    /// The answers of a route mapped through <see cref="ToHttp"/>, for the OpenAPI document: 202 with
    /// <typeparamref name="TAccepted"/>, 404 and 409 problems, and for a command that starts a run (with an
    /// Idempotency-Key) 422 naming the key. Its body's 400 comes with <see cref="ApiExtensions.ReadsJsonBody"/>, the
    /// budgets' 429 with every route.
    /// </summary>
    public static RouteHandlerBuilder ProducesRunCommand<TAccepted>(this RouteHandlerBuilder builder, bool startsRun = false)
    {
        builder.Produces<TAccepted>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return startsRun ? builder.ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity) : builder;
    }

    public static ProblemHttpResult RunNotFound(string id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Run not found.", detail: $"No run has the id '{id}'.");
}
