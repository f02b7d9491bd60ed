using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Qlaw.Api.Http;
using Qlaw.Api.Responses;
using Qlaw.Api.Runs;
using Qlaw.Api.Streaming;
using Qlaw.Api.Workflows;
using Qlaw.Contracts.Responses;
using Qlaw.Contracts.Runs;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Operations;
using Qlaw.Core.Responses;
using Qlaw.Core.Runs;
using Qlaw.Core.Streaming;
using Qlaw.Core.Workflows;
using static Qlaw.Api.Http.ApiRequest;

namespace Qlaw.Functions.Http;

/// <summary>
/// The /v1 API as HTTP triggers (route prefix <c>v1</c> in host.json): one trigger per Qlaw.Server route, each binding
/// its inputs with <see cref="ApiRequest"/> and calling the same handler Qlaw.Server maps. A test holds the routes in
/// the built functions.metadata equal to Qlaw.Server's route table.
/// </summary>
public static class ApiFunctions
{
    [Function(nameof(WorkflowsApi.CreateWorkflow))]
    public static Task<IActionResult> CreateWorkflow(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "workflows")] HttpRequest request,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, async http =>
            await WorkflowsApi.CreateWorkflow((await BodyAsync<WorkflowDefinition>(http))!, http.Service<WorkflowCatalog>(), http.RequestAborted));

    [Function(nameof(WorkflowsApi.ListWorkflows))]
    public static Task<IActionResult> ListWorkflows(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "workflows")] HttpRequest request,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, async http =>
            await WorkflowsApi.ListWorkflows(QueryInt(http, "limit"), Query(http, "after"), http.Service<WorkflowCatalog>(), http.RequestAborted));

    [Function(nameof(WorkflowsApi.GetWorkflow))]
    public static Task<IActionResult> GetWorkflow(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "workflows/{id}")] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, async http =>
            await WorkflowsApi.GetWorkflow(id, http.Service<WorkflowCatalog>(), http.RequestAborted));

    [Function(nameof(WorkflowsApi.DeleteWorkflow))]
    public static Task<IActionResult> DeleteWorkflow(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "workflows/{id}")] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, async http =>
            await WorkflowsApi.DeleteWorkflow(id, http.Service<WorkflowCatalog>(), http.RequestAborted));

    [Function(nameof(WorkflowsApi.ListWorkflowRuns))]
    public static Task<IActionResult> ListWorkflowRuns(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "workflows/{id}/runs")] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, async http =>
            await WorkflowsApi.ListWorkflowRuns(id, QueryInt(http, "limit"), Query(http, "after"), http.Service<WorkflowCatalog>(), http.RequestAborted));

    [Function(nameof(RunsApi.StartRun))]
    public static Task<IActionResult> StartRun(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "workflows/{id}/runs")] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.RunCreation, async http =>
            await RunsApi.StartRun(id, (await BodyAsync<StartRunRequest>(http))!, Header(http, "Idempotency-Key"), http, http.Service<RunCommands>(), http.RequestAborted));

    [Function(nameof(RunsApi.ListRuns))]
    public static Task<IActionResult> ListRuns(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "runs")] HttpRequest request,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, async http =>
            await RunsApi.ListRuns(Query(http, "status"), QueryBool(http, "stale"), QueryInt(http, "limit"), Query(http, "after"), http.Service<RunQueries>(), http.RequestAborted));

    [Function(nameof(RunsApi.GetRunStatus))]
    public static Task<IActionResult> GetRunStatus(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "runs/{id}/status")] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, async http =>
            await RunsApi.GetRunStatus(id, http.Service<RunQueries>(), http.RequestAborted));

    [Function(nameof(RunsApi.GetRunSteps))]
    public static Task<IActionResult> GetRunSteps(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "runs/{id}/steps")] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, async http =>
            await RunsApi.GetRunSteps(id, QueryInt(http, "limit"), Query(http, "after"), http.Service<RunQueries>(), http.RequestAborted));

    [Function(nameof(RunsApi.GetRunAudit))]
    public static Task<IActionResult> GetRunAudit(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "runs/{id}/audit")] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, async http =>
            await RunsApi.GetRunAudit(id, QueryInt(http, "limit"), QueryLong(http, "after"), http.Service<RunQueries>(), http.RequestAborted));

    [Function(nameof(RunsApi.ContinueRun))]
    public static Task<IActionResult> ContinueRun(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "runs/{id}/continue")] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, async http =>
            await RunsApi.ContinueRun(id, await BodyAsync<ContinueRunRequest>(http, optional: true), http.Service<RunCommands>(), http.RequestAborted));

    [Function(nameof(RunsApi.HandoffRun))]
    public static Task<IActionResult> HandoffRun(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "runs/{id}/handoff")] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, async http =>
            await RunsApi.HandoffRun(id, (await BodyAsync<HandoffRequest>(http))!, http.Service<RunCommands>(), http.RequestAborted));

    [Function(nameof(RunsApi.CancelRun))]
    public static Task<IActionResult> CancelRun(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "runs/{id}/cancel")] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, async http =>
            await RunsApi.CancelRun(id, http.Service<RunCommands>(), http.RequestAborted));

    [Function(nameof(RunsApi.ForkRun))]
    public static Task<IActionResult> ForkRun(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "runs/{id}/fork")] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.RunCreation, async http =>
            await RunsApi.ForkRun(id, (await BodyAsync<ForkRunRequest>(http))!, Header(http, "Idempotency-Key"), http, http.Service<RunForks>(), http.RequestAborted));

    /// <summary>
    /// The run's event stream. Consumption front ends end an HTTP response after about 230 s: clients reconnect with
    /// <c>Last-Event-ID</c> and continue where they stopped.
    /// </summary>
    [Function(nameof(StreamingApi.StreamRun))]
    public static Task<IActionResult> StreamRun(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "runs/{id}/responses")] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, http =>
            StreamingApi.StreamRun(id, QueryLong(http, "starting_after"), http, http.Service<RunStreamReader>(), http.RequestAborted));

    [Function(nameof(StreamingApi.CreateResponse))]
    public static Task<IActionResult> CreateResponse(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "responses")] HttpRequest request,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.RunCreation, async http =>
            await StreamingApi.CreateResponse((await BodyAsync<ResponsesRequest>(http))!, http, http.Service<ResponsesService>(), http.RequestAborted));

    [Function(nameof(StreamingApi.SendResponses))]
    public static Task<IActionResult> SendResponses(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "workflows/{id}/send_responses")] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.RunCreation, async http =>
        {
            using var body = (await BodyAsync<JsonDocument>(http))!;
            return await StreamingApi.SendResponses(id, body.RootElement.Clone(), http, http.Service<ResponsesService>(), http.RequestAborted);
        });

    [Function(nameof(StreamingApi.ListAgents))]
    public static Task<IActionResult> ListAgents(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "agents")] HttpRequest request,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, async http =>
            await StreamingApi.ListAgents(Query(http, "project_endpoint"), Query(http, "foundry_endpoint"), QueryInt(http, "limit"), Query(http, "after"), http.Service<WorkflowCatalog>(), http.RequestAborted));

    [Function(nameof(ResponsesApi.GetResponse))]
    public static Task<IActionResult> GetResponse(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "responses/{id}")] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, http =>
            ResponsesApi.GetResponse(
                id, QueryBool(http, "stream"), QueryInt(http, "starting_after"), http, http.Service<ResponsesService>(), http.Service<ResponseConversations>(), http.RequestAborted));

    [Function(nameof(ResponsesApi.DeleteResponse))]
    public static Task<IActionResult> DeleteResponse(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "responses/{id}")] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, async http =>
            await ResponsesApi.DeleteResponse(id, http.Service<ResponseConversations>(), http.Service<RunRetention>(), http.RequestAborted));

    [Function(nameof(ResponsesApi.CancelResponse))]
    public static Task<IActionResult> CancelResponse(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "responses/{id}/cancel")] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        ApiTrigger.InvokeAsync(request, client, RateLimiting.Requests, http =>
            ResponsesApi.CancelResponse(id, http.Service<ResponsesService>(), http.Service<ResponseConversations>(), http.RequestAborted));
}
