using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Moq;
using Qlaw.Core.Orchestration;
using Qlaw.Functions.Http;
using Qlaw.Functions.Orchestration;
using Qlaw.Testing;

namespace Qlaw.Functions.Tests;

/// <summary>
/// Qlaw.Functions' triggers as the Functions runtime calls them (a <c>DefaultHttpContext</c>, a mocked
/// <see cref="DurableTaskClient"/> and <c>FunctionContext</c>) over a real PostgreSQL.
/// </summary>
[Collection(StackCollectionDefinition.Name)]
public sealed class FunctionsApiTests(QlawStackFixture stack)
{
    [Fact]
    public async Task A_run_started_by_the_http_trigger_runs_through_the_orchestration_and_activity_triggers_to_completion()
    {
        await using var host = await FunctionsHost.StartAsync(stack);
        var client = host.Client.Object;
        Assert.Equal(201, (await SendAsync(ApiFunctions.CreateWorkflow, host.Request("POST", "/v1/workflows", Samples.WorkflowJson("code-review")), client)).Status);
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = "k-1" };

        var accepted = await SendAsync((r, c) => ApiFunctions.StartRun(r, "code-review", c), host.Request("POST", "/v1/workflows/code-review/runs", """{"input":"add two numbers"}""", headers), client);

        Assert.Equal(202, accepted.Status);
        var runId = accepted.Json.GetProperty("id").GetString()!;
        var (name, instanceId, input) = Assert.Single(host.Scheduled);
        Assert.Equal(RunOrchestrator.Name, name);
        var orchestrationInput = Assert.IsType<RunOrchestrationInput>(input);
        Assert.Equal(runId, orchestrationInput.RunId.ToString());
        host.Instances[instanceId] = OrchestrationRuntimeStatus.Running;

        // The same Idempotency-Key gives the same run and schedules nothing more.
        var again = await SendAsync((r, c) => ApiFunctions.StartRun(r, "code-review", c), host.Request("POST", "/v1/workflows/code-review/runs", """{"input":"add two numbers"}""", headers), client);
        Assert.Equal(runId, again.Json.GetProperty("id").GetString());
        Assert.Single(host.Scheduled);

        // Play the Durable runtime: the orchestrator trigger, whose activity calls go to the activity triggers.
        var outcome = await OrchestrationFunctions.RunOrchestration(Orchestration(host, instanceId, orchestrationInput).Object);

        Assert.Equal("completed", outcome);
        var status = await SendAsync((r, c) => ApiFunctions.GetRunStatus(r, runId, c), host.Request("GET", $"/v1/runs/{runId}/status"), client);
        Assert.Equal("completed", status.Json.GetProperty("status").GetString());
        var agents = status.Json.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("agent").GetString()).ToList();
        Assert.Equal(["planner", "coder", "reviewer", "coder", "judge"], agents);

        var audit = await SendAsync((r, c) => ApiFunctions.GetRunAudit(r, runId, c), host.Request("GET", $"/v1/runs/{runId}/audit?limit=100"), client);
        Assert.Contains("run.completed", audit.Body, StringComparison.Ordinal);
        var stream = await SendAsync((r, c) => ApiFunctions.StreamRun(r, runId, c), host.Request("GET", $"/v1/runs/{runId}/responses"), client);
        Assert.Equal("text/event-stream", stream.ContentType);
        Assert.Contains("event: response.output_text.delta", stream.Body, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", stream.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_run_forked_by_the_http_trigger_shares_the_steps_before_and_runs_on_to_completion()
    {
        await using var host = await FunctionsHost.StartAsync(stack);
        var client = host.Client.Object;
        var runId = await StartSampleRunAsync(host);
        var (_, sourceInstance, sourceInput) = Assert.Single(host.Scheduled);
        Assert.Equal("completed", await OrchestrationFunctions.RunOrchestration(Orchestration(host, sourceInstance, (RunOrchestrationInput)sourceInput!).Object));

        var accepted = await SendAsync((r, c) => ApiFunctions.ForkRun(r, runId, c), host.Request("POST", $"/v1/runs/{runId}/fork", """{"from_step":2,"input":"again"}"""), client);

        Assert.Equal(202, accepted.Status);
        Assert.Equal(runId, accepted.Json.GetProperty("forked_from").GetString());
        var forkId = accepted.Json.GetProperty("id").GetString()!;
        var (_, forkInstance, forkInput) = host.Scheduled[1];
        Assert.Equal("completed", await OrchestrationFunctions.RunOrchestration(Orchestration(host, forkInstance, (RunOrchestrationInput)forkInput!).Object));
        var status = await SendAsync((r, c) => ApiFunctions.GetRunStatus(r, forkId, c), host.Request("GET", $"/v1/runs/{forkId}/status"), client);
        Assert.Equal("completed", status.Json.GetProperty("status").GetString());
        Assert.Equal(2, status.Json.GetProperty("from_step").GetInt32());
        var agents = status.Json.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("agent").GetString()).ToList();
        Assert.Equal(["planner", "coder", "reviewer", "coder", "judge"], agents);
        var unknownStep = await SendAsync((r, c) => ApiFunctions.ForkRun(r, runId, c), host.Request("POST", $"/v1/runs/{runId}/fork", """{"from_step":7}"""), client);
        Assert.Equal(400, unknownStep.Status);
        Assert.True(unknownStep.Json.GetProperty("errors").TryGetProperty("from_step", out _));
    }

    [Fact]
    public async Task Cancel_terminates_the_orchestration_through_the_durable_client()
    {
        await using var host = await FunctionsHost.StartAsync(stack);
        var client = host.Client.Object;
        var runId = await StartSampleRunAsync(host);
        var instanceId = host.Scheduled[0].InstanceId;
        host.Instances[instanceId] = OrchestrationRuntimeStatus.Running;

        var cancel = await SendAsync((r, c) => ApiFunctions.CancelRun(r, runId, c), host.Request("POST", $"/v1/runs/{runId}/cancel"), client);

        Assert.Equal(202, cancel.Status);
        host.Client.Verify(c => c.TerminateInstanceAsync(instanceId, It.Is<TerminateInstanceOptions?>(o => o != null), It.IsAny<CancellationToken>()), Times.Once);
        var again = await SendAsync((r, c) => ApiFunctions.CancelRun(r, runId, c), host.Request("POST", $"/v1/runs/{runId}/cancel"), client);
        Assert.Equal(409, again.Status);
        Assert.Equal("cancelled", again.Json.GetProperty("run_status").GetString());
    }

    [Fact]
    public async Task A_background_response_is_retrieved_streamed_cancelled_and_deleted_through_the_triggers()
    {
        await using var host = await FunctionsHost.StartAsync(stack);
        var client = host.Client.Object;
        await SendAsync(ApiFunctions.CreateWorkflow, host.Request("POST", "/v1/workflows", Samples.WorkflowJson("code-review")), client);

        var created = await SendAsync(ApiFunctions.CreateResponse, host.Request("POST", "/v1/responses", """{"model":"code-review","input":"x","background":true,"temperature":1}"""), client);

        Assert.Equal(200, created.Status);
        Assert.Equal("queued", created.Json.GetProperty("status").GetString());
        Assert.Equal("temperature", created.Headers["Qlaw-Ignored-Parameters"].ToString());
        var id = created.Json.GetProperty("id").GetString()!;
        var (_, instanceId, input) = Assert.Single(host.Scheduled);
        Assert.Equal("completed", await OrchestrationFunctions.RunOrchestration(Orchestration(host, instanceId, (RunOrchestrationInput)input!).Object));

        var retrieved = await SendAsync((r, c) => ApiFunctions.GetResponse(r, id, c), host.Request("GET", $"/v1/responses/{id}"), client);
        Assert.Equal("completed", retrieved.Json.GetProperty("status").GetString());
        Assert.Equal(5, retrieved.Json.GetProperty("output").GetArrayLength());
        var stream = await SendAsync((r, c) => ApiFunctions.GetResponse(r, id, c), host.Request("GET", $"/v1/responses/{id}?stream=true&starting_after=3"), client);
        Assert.Equal("text/event-stream", stream.ContentType);
        var numbers = System.Text.RegularExpressions.Regex.Matches(stream.Body, "\"sequence_number\":\\s*(\\d+)").Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(Enumerable.Range(4, numbers.Count), numbers);
        Assert.Contains("event: response.completed", stream.Body, StringComparison.Ordinal);

        var cancelEnded = await SendAsync((r, c) => ApiFunctions.CancelResponse(r, id, c), host.Request("POST", $"/v1/responses/{id}/cancel"), client);
        Assert.Equal(409, cancelEnded.Status);
        var deleted = await SendAsync((r, c) => ApiFunctions.DeleteResponse(r, id, c), host.Request("DELETE", $"/v1/responses/{id}"), client);
        Assert.True(deleted.Json.GetProperty("deleted").GetBoolean());
        Assert.Equal(404, (await SendAsync((r, c) => ApiFunctions.GetResponse(r, id, c), host.Request("GET", $"/v1/responses/{id}"), client)).Status);
        var refused = await SendAsync(ApiFunctions.CreateResponse, host.Request("POST", "/v1/responses", """{"model":"code-review","input":"x","store":false}"""), client);
        Assert.Equal("store", refused.Json.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task A_client_over_its_request_budget_gets_429_with_retry_after()
    {
        await using var host = await FunctionsHost.StartAsync(stack, new Dictionary<string, string?>
        {
            ["RateLimits:Requests:Burst"] = "2",
            ["RateLimits:Requests:PermitsPerSecond"] = "1",
        });

        var statuses = new List<TriggerResponse>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add(await SendAsync(ApiFunctions.ListWorkflows, host.Request("GET", "/v1/workflows"), host.Client.Object));
        }

        Assert.Equal([200, 200], statuses.Take(2).Select(s => s.Status));
        var limited = statuses[3];
        Assert.Equal(429, limited.Status);
        Assert.Equal("application/problem+json", limited.ContentType);
        Assert.Equal("1", limited.Headers.RetryAfter.ToString());
    }

    internal static async Task<TriggerResponse> SendAsync(
        Func<Microsoft.AspNetCore.Http.HttpRequest, DurableTaskClient, Task<Microsoft.AspNetCore.Mvc.IActionResult>> trigger,
        Microsoft.AspNetCore.Http.HttpRequest request, DurableTaskClient client)
    {
        await trigger(request, client);
        return await TriggerResponse.ReadAsync(request);
    }

    // An orchestration context whose activity calls invoke the Functions activity triggers, as the runtime would.
    // Stores the code-review sample and starts a run of it through the triggers; returns the run's id.
    private static async Task<string> StartSampleRunAsync(FunctionsHost host)
    {
        await SendAsync(ApiFunctions.CreateWorkflow, host.Request("POST", "/v1/workflows", Samples.WorkflowJson("code-review")), host.Client.Object);
        var started = await SendAsync((r, c) => ApiFunctions.StartRun(r, "code-review", c), host.Request("POST", "/v1/workflows/code-review/runs", """{"input":"x"}"""), host.Client.Object);
        return started.Json.GetProperty("id").GetString()!;
    }

    private static Mock<TaskOrchestrationContext> Orchestration(FunctionsHost host, string instanceId, RunOrchestrationInput input)
    {
        var context = new Mock<TaskOrchestrationContext> { DefaultValue = DefaultValue.Mock };
        context.SetupGet(c => c.InstanceId).Returns(instanceId);
        context.Setup(c => c.GetInput<RunOrchestrationInput>()).Returns(input);
        context.Setup(c => c.CallActivityAsync<TurnResult>(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .Returns((TaskName _, object? request, TaskOptions? _) => OrchestrationFunctions.AgentTurn((TurnRequest)request!, host.ActivityContext(instanceId)));
        context.Setup(c => c.CallActivityAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .Returns((TaskName _, object? request, TaskOptions? _) => OrchestrationFunctions.DeadLetter((DeadLetterRequest)request!, host.ActivityContext(instanceId)));
        return context;
    }
}
