using Microsoft.AspNetCore.Http.HttpResults;
using Qlaw.Api.Http;
using Qlaw.Contracts;
using Qlaw.Contracts.Runs;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Paging;
using Qlaw.Core.Workflows;

namespace Qlaw.Api.Workflows;

/// <summary><c>/v1/workflows</c>: create, read by id or name, list, delete, and list a workflow's runs.</summary>
public static class WorkflowsApi
{
    public static RouteGroupBuilder MapWorkflows(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/workflows").WithTags("Workflows");
        group.MapPost("/", CreateWorkflow).WithName(nameof(CreateWorkflow)).ReadsJsonBody().ProducesValidationProblem(StatusCodes.Status409Conflict);
        group.MapGet("/", ListWorkflows).WithName(nameof(ListWorkflows));
        group.MapGet("/{id}", GetWorkflow).WithName(nameof(GetWorkflow)).ProducesProblem(StatusCodes.Status404NotFound);
        group.MapDelete("/{id}", DeleteWorkflow).WithName(nameof(DeleteWorkflow)).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        group.MapGet("/{id}/runs", ListWorkflowRuns).WithName(nameof(ListWorkflowRuns)).ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    public static async Task<Results<Created<WorkflowResponse>, ValidationProblem, ProblemHttpResult>> CreateWorkflow(
        WorkflowDefinition definition, WorkflowCatalog catalog, CancellationToken cancellationToken) =>
        await catalog.CreateAsync(definition, cancellationToken) switch
        {
            CreateWorkflowResult.Created created => TypedResults.Created($"/v1/workflows/{created.Workflow.Id}", created.Workflow),
            CreateWorkflowResult.Invalid invalid => TypedResults.ValidationProblem(invalid.Errors),
            CreateWorkflowResult.NameTaken taken => TypedResults.Problem(new HttpValidationProblemDetails(
                new Dictionary<string, string[]> { ["name"] = [$"A workflow named '{taken.Name}' already exists."] })
            {
                Status = StatusCodes.Status409Conflict,
                Title = "The workflow name is taken.",
            }),
            CreateWorkflowResult.Full full => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The server keeps no more workflows.", detail: full.Reason),
            var other => throw new InvalidOperationException($"Unexpected result {other}."),
        };

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteWorkflow(
        string id, WorkflowCatalog catalog, CancellationToken cancellationToken) =>
        await catalog.DeleteAsync(id, cancellationToken) switch
        {
            DeleteWorkflowResult.Deleted => TypedResults.NoContent(),
            DeleteWorkflowResult.Busy busy => TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict, title: "The workflow has runs that have not ended.",
                detail: $"{busy.ActiveRuns} runs of this workflow are active (or dead-lettered and waiting for continue); cancel them, or wait for them to end."),
            _ => WorkflowNotFound(id),
        };

    public static async Task<Results<Ok<WorkflowResponse>, ProblemHttpResult>> GetWorkflow(
        string id, WorkflowCatalog catalog, CancellationToken cancellationToken) =>
        await catalog.FindAsync(id, cancellationToken) is { } workflow
            ? TypedResults.Ok(workflow)
            : WorkflowNotFound(id);

    public static async Task<Results<Ok<ListPage<WorkflowResponse>>, ValidationProblem>> ListWorkflows(
        int? limit, string? after, WorkflowCatalog catalog, CancellationToken cancellationToken) =>
        PageRequest.TryParse(limit, after, out var page, out var errors)
            ? TypedResults.Ok(await catalog.ListAsync(page, cancellationToken))
            : TypedResults.ValidationProblem(errors);

    public static async Task<Results<Ok<ListPage<RunSummary>>, ValidationProblem, ProblemHttpResult>> ListWorkflowRuns(
        string id, int? limit, string? after, WorkflowCatalog catalog, CancellationToken cancellationToken)
    {
        if (!PageRequest.TryParse(limit, after, out var page, out var errors))
        {
            return TypedResults.ValidationProblem(errors);
        }

        return await catalog.ListRunsAsync(id, page, cancellationToken) is { } runs
            ? TypedResults.Ok(runs)
            : WorkflowNotFound(id);
    }

    private static ProblemHttpResult WorkflowNotFound(string id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Workflow not found.", detail: $"No workflow has the id or name '{id}'.");
}
