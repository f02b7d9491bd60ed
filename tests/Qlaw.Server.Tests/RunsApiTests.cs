using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaw.Core.Orchestration;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

[Collection(QlawStackCollections.Api)]
public sealed class RunsApiTests(QlawStackFixture stack) : IAsyncLifetime
{
    private QlawApplication _app = null!;
    private RunsClient _runs = null!;

    public async Task InitializeAsync()
    {
        _app = await QlawApplication.StartAsync(stack);
        _runs = new RunsClient(_app.CreateClient());
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task The_sample_workflow_runs_planner_coder_reviewer_coder_judge_with_the_stack_pushed_and_popped()
    {
        await _runs.CreateWorkflowAsync(Samples.Workflow());

        var runId = await _runs.StartAsync("code-review");
        var status = await _runs.WaitForAsync(runId, "completed");

        Assert.Equal(["planner:completed:1", "coder:completed:1", "reviewer:completed:1", "coder:completed:1", "judge:completed:1"], RunsClient.Steps(status));
        Assert.Empty(status["origin_stack"]!.AsArray());
        var audit = await _runs.AuditAsync(runId);
        var transitions = audit.Where(e => e["type"]!.GetValue<string>() is "handoff" or "return")
            .Select(e => $"{e["type"]}:{e["detail"]!["from"]}>{e["detail"]!["to"]}:{e["detail"]!["stack_depth"]}");
        Assert.Equal(["handoff:planner>coder:0", "handoff:coder>reviewer:1", "return:reviewer>coder:0", "handoff:coder>judge:0"], transitions);
        var types = audit.Select(e => e["type"]!.GetValue<string>()).ToList();
        Assert.Equal(["run.created", "run.started"], types.Take(2));
        Assert.Equal("run.completed", types[^1]);
        Assert.Equal(5, types.Count(t => t == "step.started"));
        Assert.Equal(5, types.Count(t => t == "step.completed"));
        Assert.Single(types, t => t == "run.completed");
        await using var db = _app.CreateDbContext();
        Assert.Equal(4, await db.Handoffs.CountAsync(h => h.RunId == Guid.Parse(runId)));
    }

    [Fact]
    public async Task Requests_racing_with_one_idempotency_key_get_one_run_that_runs_once()
    {
        // The losers' inserts hit the key's unique index after their own start was already asked of the hub: those
        // orchestrations find no run and stop, and every answer names the one run.
        await _runs.CreateWorkflowAsync(Samples.Workflow(newName: "raced"));
        var key = $"race-{Guid.NewGuid():N}";

        var ids = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => _runs.StartAsync("raced", idempotencyKey: key)));

        var runId = Assert.Single(ids.Distinct());
        var status = await _runs.WaitForAsync(runId, "completed");
        Assert.Equal(["planner:completed:1", "coder:completed:1", "reviewer:completed:1", "coder:completed:1", "judge:completed:1"], RunsClient.Steps(status));
        await using var db = _app.CreateDbContext();
        Assert.Equal(1, await db.Runs.CountAsync(r => r.IdempotencyKey == key));
        Assert.Single(await _runs.AuditAsync(runId), e => e["type"]!.GetValue<string>() == "run.started");
    }

    [Fact]
    public async Task The_same_idempotency_key_returns_the_same_run()
    {
        await _runs.CreateWorkflowAsync(Samples.Workflow());

        var first = await _runs.StartAsync("code-review", idempotencyKey: "key-1");
        var again = await _runs.StartAsync("code-review", idempotencyKey: "key-1");
        var other = await _runs.StartAsync("code-review", idempotencyKey: "key-2");

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
        await using var db = _app.CreateDbContext();
        Assert.Equal(2, await db.Runs.CountAsync());
    }

    [Fact]
    public async Task A_transient_failure_is_retried_with_each_retry_audited_and_the_run_completes()
    {
        await _runs.CreateWorkflowAsync(Scripted("flaky", planner: [Turn("plan", "complete", failTransient: 2)]));

        var status = await _runs.WaitForAsync(await _runs.StartAsync("flaky"), "completed");

        Assert.Equal(["planner:failed:1", "planner:failed:2", "planner:completed:3"], RunsClient.Steps(status));
        var audit = await _runs.AuditAsync(status["id"]!.GetValue<string>());
        Assert.Equal(2, audit.Count(e => e["type"]!.GetValue<string>() == "step.retrying"));
        Assert.Equal(2, audit.Count(e => e["type"]!.GetValue<string>() == "step.failed"));
    }

    [Fact]
    public async Task A_turn_that_keeps_failing_is_dead_lettered_and_continue_retries_it_to_completion()
    {
        // Four failing attempts against three allowed: dead-lettered after three, the fourth fails after continue, the fifth passes.
        await _runs.CreateWorkflowAsync(Scripted("stubborn", planner: [Turn("plan", "handoff_to_coder")], coder: [Turn("code", "complete", failTransient: 4)]));
        var runId = await _runs.StartAsync("stubborn");

        var failed = await _runs.WaitForAsync(runId, "failed");
        Assert.Contains("failed transiently", failed["last_error"]!.GetValue<string>(), StringComparison.Ordinal);
        var deadLetter = Assert.Single(await _runs.AuditAsync(runId), e => e["type"]!.GetValue<string>() == "run.dead_lettered");
        Assert.Equal(3, deadLetter["detail"]!["attempts"]!.GetValue<int>());
        Assert.Equal(0, deadLetter["detail"]!["last_good_step"]!.GetValue<int>());

        Assert.Equal(HttpStatusCode.Accepted, (await _runs.PostAsync(runId, "continue")).StatusCode);
        var completed = await _runs.WaitForAsync(runId, "completed");

        Assert.Equal(
            ["planner:completed:1", "coder:failed:1", "coder:failed:2", "coder:failed:3", "coder:failed:4", "coder:completed:5"],
            RunsClient.Steps(completed));
        var types = (await _runs.AuditAsync(runId)).Select(e => e["type"]!.GetValue<string>()).ToList();
        Assert.Single(types, t => t == "run.resumed");
        Assert.Single(types, t => t == "run.dead_lettered");
        Assert.Null(completed["last_error"]);
    }

    [Fact]
    public async Task A_permanent_failure_is_dead_lettered_without_retrying()
    {
        await _runs.CreateWorkflowAsync(Scripted("broken", planner: [Turn("plan", "complete", failPermanent: true)]));

        var failed = await _runs.WaitForAsync(await _runs.StartAsync("broken"), "failed");

        Assert.Equal(["planner:failed:1"], RunsClient.Steps(failed));
        var deadLetter = Assert.Single(await _runs.AuditAsync(failed["id"]!.GetValue<string>()), e => e["type"]!.GetValue<string>() == "run.dead_lettered");
        Assert.True(deadLetter["detail"]!["permanent"]!.GetValue<bool>());
    }

    [Fact]
    public async Task A_run_that_requests_input_pauses_and_continue_with_input_resumes_the_same_agent()
    {
        await _runs.CreateWorkflowAsync(Scripted("ask", planner: [Turn("Which language?", "request_input"), Turn("C# it is", "complete")]));
        var runId = await _runs.StartAsync("ask");
        await _runs.WaitForAsync(runId, "awaiting_input");

        var response = await _runs.PostAsync(runId, "continue", new JsonObject { ["input"] = "C#" });
        var completed = await _runs.WaitForAsync(runId, "completed");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(["planner:completed:1", "planner:completed:1"], RunsClient.Steps(completed));
        Assert.Equal("C# it is", completed["steps"]![1]!["output"]!.GetValue<string>());
        var types = (await _runs.AuditAsync(runId)).Select(e => e["type"]!.GetValue<string>()).ToList();
        Assert.Contains("input.requested", types);
        Assert.Contains("run.resumed", types);
    }

    [Fact]
    public async Task A_handoff_requested_through_the_api_is_applied_at_the_next_turn_boundary()
    {
        await _runs.CreateWorkflowAsync(Scripted("steer", planner: [Turn("Waiting", "request_input"), Turn("plan", "handoff_to_coder")]));
        var runId = await _runs.StartAsync("steer");
        await _runs.WaitForAsync(runId, "awaiting_input");

        var handoff = await _runs.PostAsync(runId, "handoff", new JsonObject { ["to_agent"] = "judge", ["reason"] = "skip ahead", ["with_return"] = true });
        await _runs.PostAsync(runId, "continue", new JsonObject { ["input"] = "go" });
        var completed = await _runs.WaitForAsync(runId, "completed");

        Assert.Equal(HttpStatusCode.Accepted, handoff.StatusCode);
        Assert.Equal(["planner:completed:1", "planner:completed:1", "judge:completed:1"], RunsClient.Steps(completed));
        var applied = Assert.Single(await _runs.AuditAsync(runId), e => e["type"]!.GetValue<string>() == "handoff");
        Assert.Equal("judge", applied["detail"]!["to"]!.GetValue<string>());
        Assert.Equal(1, applied["detail"]!["stack_depth"]!.GetValue<int>());
        await using var db = _app.CreateDbContext();
        var row = await db.Handoffs.SingleAsync(h => h.RunId == Guid.Parse(runId));
        Assert.NotNull(row.ResolvedAt);
        Assert.Equal("skip ahead", row.Reason);
    }

    [Fact]
    public async Task Cancel_ends_a_waiting_run_and_later_commands_are_409()
    {
        await _runs.CreateWorkflowAsync(Scripted("stop", planner: [Turn("Waiting", "request_input")]));
        var runId = await _runs.StartAsync("stop");
        await _runs.WaitForAsync(runId, "awaiting_input");

        var cancel = await _runs.PostAsync(runId, "cancel");

        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var status = await _runs.WaitForAsync(runId, "cancelled");
        Assert.NotNull(status["completed_at"]);
        Assert.Contains("run.cancelled", (await _runs.AuditAsync(runId)).Select(e => e["type"]!.GetValue<string>()));
        await ProblemAssert.IsProblem(await _runs.PostAsync(runId, "cancel"), HttpStatusCode.Conflict);
        await ProblemAssert.IsProblem(await _runs.PostAsync(runId, "continue"), HttpStatusCode.Conflict);
        await ProblemAssert.IsProblem(await _runs.PostAsync(runId, "handoff", new JsonObject { ["to_agent"] = "coder" }), HttpStatusCode.Conflict);
        var scheduler = _app.Services.GetRequiredService<IRunScheduler>();
        Assert.Equal(InstanceState.Terminated, await HubState.EndedAsync(scheduler, status["entity_id"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Continue_re_seeds_a_dead_lettered_run_from_postgres_when_its_orchestration_is_gone()
    {
        await _runs.CreateWorkflowAsync(Scripted("orphan", planner: [Turn("plan", "handoff_to_coder")], coder: [Turn("code", "complete", failTransient: 3)]));
        var runId = await _runs.StartAsync("orphan");
        var failed = await _runs.WaitForAsync(runId, "failed");
        var scheduler = _app.Services.GetRequiredService<IRunScheduler>();
        var instance = failed["entity_id"]!.GetValue<string>();
        await scheduler.TerminateAsync(instance, "lost", default);
        Assert.Equal(InstanceState.Terminated, await HubState.EndedAsync(scheduler, instance));

        await _runs.PostAsync(runId, "continue");
        var completed = await _runs.WaitForAsync(runId, "completed");

        Assert.NotEqual(instance, completed["entity_id"]!.GetValue<string>());
        Assert.Equal("coder:completed:4", RunsClient.Steps(completed)[^1]);
        Assert.Single(RunsClient.Steps(completed), s => s.StartsWith("planner", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Limits_stop_a_looping_run_as_failed_with_the_reason()
    {
        var workflow = Scripted("loop", planner: [Turn("again", "handoff_to_coder")], coder: [Turn("again", "handoff_to_planner")]);
        workflow["agents"]![1]!["handoffs"] = new JsonArray("planner");
        workflow["limits"] = new JsonObject { ["max_steps"] = 4 };
        await _runs.CreateWorkflowAsync(workflow);

        var failed = await _runs.WaitForAsync(await _runs.StartAsync("loop"), "failed");

        Assert.Contains("max_steps (4)", failed["last_error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(4, RunsClient.Steps(failed).Count);
        Assert.NotNull(failed["completed_at"]);
        await ProblemAssert.IsProblem(await _runs.PostAsync(failed["id"]!.GetValue<string>(), "continue"), HttpStatusCode.Conflict);
    }

    [Theory]
    [InlineData("1e999999", false)]
    [InlineData("-1e-999999", false)]
    [InlineData("0e-16384", false)]
    [InlineData("1e131072", false)]
    [InlineData("0e1073741824", false)]
    [InlineData("1e9223372036854775807", false)]
    [InlineData("1e-9223372036854775808", false)]
    [InlineData("1e131071", true)]
    [InlineData("1.5e-16382", true)]
    [InlineData("1e400", true)]
    public async Task A_number_in_metadata_that_PostgreSQL_cannot_store_is_refused_naming_it(string number, bool storable)
    {
        var workflow = await _runs.CreateWorkflowAsync(Scripted($"numbers-{Guid.NewGuid():N}", planner: [Turn("Done.", "complete")]));

        var response = await _runs.Http.PostAsync($"/v1/workflows/{workflow}/runs", new StringContent($$$"""{"input":"x","metadata":{"n":[{{{number}}}]}}""", Encoding.UTF8, "application/json"));

        if (storable)
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }
        else
        {
            Assert.Equal(["metadata.n[0]"], ProblemAssert.Fields(await ProblemAssert.IsProblem(response, HttpStatusCode.BadRequest)));
        }
    }

    [Fact]
    public async Task Bad_run_commands_are_problem_details_naming_the_field()
    {
        await _runs.CreateWorkflowAsync(Scripted("checks", planner: [Turn("Waiting", "request_input")]));
        var runId = await _runs.StartAsync("checks");
        var unknown = Guid.NewGuid().ToString();

        await ProblemAssert.IsProblem(await _runs.StartRawAsync("no-such-workflow", new JsonObject { ["input"] = "x" }), HttpStatusCode.NotFound);
        Assert.Equal(["input"], ProblemAssert.Fields(await ProblemAssert.IsProblem(await _runs.StartRawAsync("checks", new JsonObject { ["input"] = "" }), HttpStatusCode.BadRequest)));
        Assert.Equal(["metadata"], ProblemAssert.Fields(await ProblemAssert.IsProblem(await _runs.StartRawAsync("checks", new JsonObject { ["input"] = "x", ["metadata"] = 3 }), HttpStatusCode.BadRequest)));
        await ProblemAssert.IsProblem(await _runs.Http.GetAsync($"/v1/runs/{unknown}/status"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblem(await _runs.Http.GetAsync("/v1/runs/not-an-id/audit"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblem(await _runs.PostAsync(unknown, "continue"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblem(await _runs.PostAsync(unknown, "cancel"), HttpStatusCode.NotFound);
        Assert.Equal(["to_agent"], ProblemAssert.Fields(await ProblemAssert.IsProblem(
            await _runs.PostAsync(runId, "handoff", new JsonObject { ["to_agent"] = "ghost" }), HttpStatusCode.BadRequest)));
        Assert.Equal(["to_agent"], ProblemAssert.Fields(await ProblemAssert.IsProblem(
            await _runs.PostAsync(runId, "handoff", new JsonObject { ["reason"] = "none" }), HttpStatusCode.BadRequest)));
        Assert.Equal(["limit"], ProblemAssert.Fields(await ProblemAssert.IsProblem(await _runs.Http.GetAsync($"/v1/runs/{runId}/audit?limit=0"), HttpStatusCode.BadRequest)));
        await _runs.WaitForAsync(runId, "awaiting_input");
        await _runs.PostAsync(runId, "cancel");
        var conflict = await ProblemAssert.IsProblem(await _runs.PostAsync(runId, "continue"), HttpStatusCode.Conflict);
        Assert.Equal("cancelled", conflict.GetProperty("run_status").GetString());
    }

    private static JsonObject Turn(string say, string call, int failTransient = 0, bool failPermanent = false) =>
        new() { ["say"] = say, ["call"] = call, ["fail_transient"] = failTransient, ["fail_permanent"] = failPermanent };

    /// <summary>The sample workflow renamed, with fast retries and scripts for the planner and coder.</summary>
    private static JsonObject Scripted(string name, JsonObject[] planner, JsonObject[]? coder = null)
    {
        var workflow = Samples.Workflow(newName: name);
        workflow["retry"] = new JsonObject { ["max_attempts"] = 3, ["first_interval_ms"] = 50, ["backoff_coefficient"] = 1.5, ["max_interval_ms"] = 200 };
        workflow["agents"]![0]!["script"] = new JsonArray([.. planner]);
        workflow["agents"]![0]!["handoffs"] = new JsonArray("coder", "judge");
        if (coder is not null)
        {
            workflow["agents"]![1]!["script"] = new JsonArray([.. coder]);
        }

        return workflow;
    }
}
