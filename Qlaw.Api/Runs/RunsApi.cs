using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Qlaw.Api.Http;
using Qlaw.Contracts;
using Qlaw.Contracts.Runs;
using Qlaw.Core.Paging;
using Qlaw.Core.Runs;

namespace Qlaw.Api.Runs;

/// <summary>Run control: start, status, steps, audit, continue, handoff, cancel, fork.</summary>
public static class RunsApi
{
    public static RouteGroupBuilder MapRuns(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/v1/workflows/{id}/runs", StartRun).WithTags("Runs").WithName(nameof(StartRun)).ReadsJsonBody().RequireRateLimiting(RateLimiting.RunCreation)
            .ProducesRunCommand<RunAccepted>(startsRun: true);
        routes.MapGet("/v1/runs", ListRuns).WithTags("Runs").WithName(nameof(ListRuns));
        var group = routes.MapGroup("/v1/runs/{id}").WithTags("Runs");
        group.MapGet("/status", GetRunStatus).WithName(nameof(GetRunStatus)).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/steps", GetRunSteps).WithName(nameof(GetRunSteps)).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/audit", GetRunAudit).WithName(nameof(GetRunAudit)).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/continue", ContinueRun).WithName(nameof(ContinueRun)).ReadsJsonBody().ProducesRunCommand<RunAccepted>();
        group.MapPost("/handoff", HandoffRun).WithName(nameof(HandoffRun)).ReadsJsonBody().ProducesRunCommand<HandoffAccepted>();
        group.MapPost("/cancel", CancelRun).WithName(nameof(CancelRun)).ProducesRunCommand<RunAccepted>();
        group.MapPost("/fork", ForkRun).WithName(nameof(ForkRun)).ReadsJsonBody().RequireRateLimiting(RateLimiting.RunCreation).ProducesRunCommand<RunAccepted>(startsRun: true);
        return group;
    }

    public static async Task<IResult> StartRun(
        string id, StartRunRequest request, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
        HttpContext http, RunCommands runs, CancellationToken cancellationToken) =>
        RunResults.ToHttp(await runs.StartAsync(id, request, idempotencyKey, RateLimiting.ClientOf(http), cancellationToken));

    /// <summary>The operator view: runs newest first, by <c>status</c>, or only the stale ones (<c>stale=true</c>).</summary>
    public static async Task<Results<Ok<ListPage<RunSummary>>, ValidationProblem>> ListRuns(
        string? status, bool? stale, int? limit, string? after, RunQueries queries, CancellationToken cancellationToken)
    {
        RunStatus? only = null;
        if (status is not null)
        {
            if (!QlawJson.TryParseEnum<RunStatus>(status, out var parsed))
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]>
                {
                    ["status"] = [$"Use one of {string.Join(", ", Enum.GetValues<RunStatus>().Select(s => QlawJson.EnumName(s)))}."],
                });
            }

            only = parsed;
        }

        return PageRequest.TryParse(limit, after, out var page, out var errors)
            ? TypedResults.Ok(await queries.ListAsync(only, stale == true, page, cancellationToken))
            : TypedResults.ValidationProblem(errors);
    }

    public static async Task<Results<Ok<RunStatusResponse>, ProblemHttpResult>> GetRunStatus(
        string id, RunQueries queries, CancellationToken cancellationToken) =>
        Guid.TryParse(id, out var runId) && await queries.GetStatusAsync(runId, cancellationToken) is { } status
            ? TypedResults.Ok(status)
            : RunResults.RunNotFound(id);

    /// <summary>The run's step attempts with their whole outputs, a page at a time (<c>after</c> = <c>{step}.{attempt}</c> of the last one).</summary>
    public static async Task<Results<Ok<ListPage<StepView>>, ValidationProblem, ProblemHttpResult>> GetRunSteps(
        string id, int? limit, string? after, RunQueries queries, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (limit is < 1 or > ListPage<object>.MaxLimit)
        {
            errors["limit"] = [$"The limit must be between 1 and {ListPage<object>.MaxLimit}."];
        }

        (int, int)? cursor = null;
        if (after is not null)
        {
            if (after.Split('.') is [var step, var attempt] && int.TryParse(step, out var s) && int.TryParse(attempt, out var a) && s >= 0 && a >= 1)
            {
                cursor = (s, a);
            }
            else
            {
                errors["after"] = ["The cursor is the last_id of the previous page: {step}.{attempt}."];
            }
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        return Guid.TryParse(id, out var runId) && await queries.GetStepsAsync(runId, limit ?? ListPage<object>.DefaultLimit, cursor, cancellationToken) is { } page
            ? TypedResults.Ok(page)
            : RunResults.RunNotFound(id);
    }

    public static async Task<Results<Ok<AuditPage>, ValidationProblem, ProblemHttpResult>> GetRunAudit(
        string id, int? limit, long? after, RunQueries queries, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > ListPage<object>.MaxLimit)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"The limit must be between 1 and {ListPage<object>.MaxLimit}."] });
        }

        return Guid.TryParse(id, out var runId) && await queries.GetAuditAsync(runId, limit ?? ListPage<object>.MaxLimit, after, cancellationToken) is { } page
            ? TypedResults.Ok(page)
            : RunResults.RunNotFound(id);
    }

    public static async Task<IResult> ContinueRun(
        string id, [FromBody(EmptyBodyBehavior = EmptyBodyBehavior.Allow)] ContinueRunRequest? request,
        RunCommands runs, CancellationToken cancellationToken) =>
        Guid.TryParse(id, out var runId)
            ? RunResults.ToHttp(await runs.ContinueAsync(runId, request ?? new ContinueRunRequest(), cancellationToken))
            : RunResults.RunNotFound(id);

    public static async Task<IResult> HandoffRun(string id, HandoffRequest request, RunCommands runs, CancellationToken cancellationToken) =>
        Guid.TryParse(id, out var runId) ? RunResults.ToHttp(await runs.HandoffAsync(runId, request, cancellationToken)) : RunResults.RunNotFound(id);

    public static async Task<IResult> CancelRun(string id, RunCommands runs, CancellationToken cancellationToken) =>
        Guid.TryParse(id, out var runId) ? RunResults.ToHttp(await runs.CancelAsync(runId, cancellationToken)) : RunResults.RunNotFound(id);

    /// <summary>A new run sharing this one's history up to and including <c>from_step</c>, going on from there.</summary>
    public static async Task<IResult> ForkRun(
        string id, ForkRunRequest request, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
        HttpContext http, RunForks forks, CancellationToken cancellationToken) =>
        Guid.TryParse(id, out var runId)
            ? RunResults.ToHttp(await forks.ForkAsync(runId, request, idempotencyKey, RateLimiting.ClientOf(http), cancellationToken))
            : RunResults.RunNotFound(id);
}
