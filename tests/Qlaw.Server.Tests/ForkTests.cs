using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Qlaw.Contracts;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>POST /v1/runs/{id}/fork: a new run shares the source's history up to a step and goes on from there.</summary>
[Collection(QlawStackCollections.Api)]
public sealed class ForkTests(QlawStackFixture stack) : IAsyncLifetime
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
    public async Task Forking_from_every_step_of_a_completed_run_yields_runs_that_complete_sharing_its_first_steps()
    {
        await _runs.CreateWorkflowAsync(Samples.Workflow());
        var source = await _runs.StartAsync("code-review");
        var sourceStatus = await _runs.WaitForAsync(source, "completed");
        var sourceSteps = await CompletedStepsAsync(source);

        for (var fromStep = 0; fromStep < sourceSteps.Count; fromStep++)
        {
            var fork = await _runs.ForkAsync(source, fromStep);
            var status = await _runs.WaitForAsync(fork, "completed");

            var forkSteps = await CompletedStepsAsync(fork);
            Assert.Equal(sourceSteps.Take(fromStep + 1), forkSteps.Take(fromStep + 1));
            Assert.Equal(sourceSteps.Select(s => s.Agent), forkSteps.Select(s => s.Agent));
            Assert.Equal(source, status["forked_from"]!.GetValue<string>());
            Assert.Equal(fromStep, status["from_step"]!.GetValue<int>());
            var forkedFrom = Assert.Single(await AuditOfTypeAsync(fork, "run.forked_from"));
            Assert.Equal(fromStep, forkedFrom["from_step"]!.GetValue<int>());
            Assert.False(forkedFrom["definition_changed"]!.GetValue<bool>());
        }

        // The source is as it was, with one audit entry per fork.
        Assert.Equal(RunsClient.Steps(sourceStatus), RunsClient.Steps(await _runs.StatusAsync(source)));
        Assert.Equal(sourceSteps, await CompletedStepsAsync(source));
        var forks = await AuditOfTypeAsync(source, "run.forked");
        Assert.Equal(Enumerable.Range(0, sourceSteps.Count), forks.Select(f => f["from_step"]!.GetValue<int>()));
        var listed = JsonNode.Parse(await _runs.Http.GetStringAsync("/v1/runs?limit=100"))!["data"]!.AsArray();
        Assert.Equal(sourceSteps.Count, listed.Count(r => r!["forked_from"]?.GetValue<string>() == source));
    }

    [Fact]
    public async Task A_forks_input_is_what_the_next_agent_receives_and_its_stream_replays_the_shared_history()
    {
        await _runs.CreateWorkflowAsync(Samples.Workflow());
        var source = await _runs.StartAsync("code-review");
        await _runs.WaitForAsync(source, "completed");

        // Step 2 is the reviewer's: it returns the work to the coder, who gets the new instruction.
        var fork = await _runs.ForkAsync(source, 2, input: "Use checked arithmetic.");
        await _runs.WaitForAsync(fork, "completed");

        await using var db = _app.CreateDbContext();
        var step3 = await db.Steps.SingleAsync(s => s.RunId == Guid.Parse(fork) && s.Index == 3 && s.Status == StepStatus.Completed);
        Assert.Equal("coder", step3.Agent);
        Assert.Equal("Use checked arithmetic.", step3.Input);
        var events = await db.RunEvents.Where(e => e.RunId == Guid.Parse(fork)).OrderBy(e => e.Id).ToListAsync();
        var invoked = events.Where(e => e.Data.Contains("ExecutorInvokedEvent", StringComparison.Ordinal)).Select(e => e.StepIndex).ToList();
        Assert.Equal([0, 1, 2, 3, 4], invoked);
        Assert.DoesNotContain(events, e => e.Data.Contains(Guid.Parse(source).ToString("N"), StringComparison.Ordinal));
        var handoff = Assert.Single(await AuditOfTypeAsync(fork, "return"));
        Assert.Equal("reviewer", handoff["from"]!.GetValue<string>());

        // The fork's schedule is its own outbox signal (a re-drive before its first turn starts from it), not its source's.
        Assert.Single(await db.RunSignals.Where(r => r.RunId == Guid.Parse(fork) && r.Kind == "schedule").ToListAsync());
        Assert.Single(await db.RunSignals.Where(r => r.RunId == Guid.Parse(source) && r.Kind == "schedule").ToListAsync());
    }

    [Fact]
    public async Task A_running_run_forks_only_up_to_its_last_completed_step()
    {
        // The coder's turn fails once and its retry waits ten minutes: the run stays running after step 0.
        var workflow = Samples.Workflow(newName: "slow-coder");
        workflow["retry"] = new JsonObject { ["max_attempts"] = 3, ["first_interval_ms"] = 600_000, ["max_interval_ms"] = 600_000 };
        workflow["agents"]![1]!["script"] = new JsonArray(new JsonObject { ["say"] = "code", ["call"] = "complete", ["fail_transient"] = 1 });
        await _runs.CreateWorkflowAsync(workflow);
        var source = await _runs.StartAsync("slow-coder");
        await WaitForFailedAttemptAsync(source);

        var beyond = await ProblemAssert.IsProblem(await _runs.ForkRawAsync(source, new JsonObject { ["from_step"] = 1 }), HttpStatusCode.BadRequest);
        var fork = await _runs.ForkAsync(source, 0);

        Assert.Equal(["from_step"], ProblemAssert.Fields(beyond));
        var status = await _runs.WaitForAsync(fork, "running");
        Assert.Equal("running", (await _runs.StatusAsync(source))["status"]!.GetValue<string>());
        Assert.Equal((await CompletedStepsAsync(source)).Take(1), (await CompletedStepsAsync(fork)).Take(1));
        Assert.Equal(source, status["forked_from"]!.GetValue<string>());
        await _runs.PostAsync(source, "cancel");
        await _runs.PostAsync(fork, "cancel");
    }

    [Fact]
    public async Task Bad_fork_requests_are_problems_naming_the_field()
    {
        await _runs.CreateWorkflowAsync(Samples.Workflow());
        var source = await _runs.StartAsync("code-review");
        await _runs.WaitForAsync(source, "completed");

        var unknownStep = await ProblemAssert.IsProblem(await _runs.ForkRawAsync(source, new JsonObject { ["from_step"] = 9 }), HttpStatusCode.BadRequest);
        var negative = await ProblemAssert.IsProblem(await _runs.ForkRawAsync(source, new JsonObject { ["from_step"] = -1 }), HttpStatusCode.BadRequest);
        var missing = await ProblemAssert.IsProblem(await _runs.ForkRawAsync(source, new JsonObject { ["input"] = "again" }), HttpStatusCode.BadRequest);
        var lastWithInput = await ProblemAssert.IsProblem(
            await _runs.ForkRawAsync(source, new JsonObject { ["from_step"] = 4, ["input"] = "again" }), HttpStatusCode.BadRequest);
        await ProblemAssert.IsProblem(await _runs.ForkRawAsync(Guid.NewGuid().ToString(), new JsonObject { ["from_step"] = 0 }), HttpStatusCode.NotFound);

        Assert.Equal(["from_step"], ProblemAssert.Fields(unknownStep));
        Assert.Contains("0 to 4", unknownStep.GetProperty("errors").GetProperty("from_step")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(["from_step"], ProblemAssert.Fields(negative));
        Assert.Equal(["from_step"], ProblemAssert.Fields(missing));
        Assert.Equal(["input"], ProblemAssert.Fields(lastWithInput));
        await using var db = _app.CreateDbContext();
        Assert.Equal(1, await db.Runs.CountAsync());
    }

    [Fact]
    public async Task The_same_idempotency_key_returns_the_same_fork_and_another_body_under_it_is_422()
    {
        await _runs.CreateWorkflowAsync(Samples.Workflow());
        var source = await _runs.StartAsync("code-review");
        await _runs.WaitForAsync(source, "completed");

        var first = await _runs.ForkAsync(source, 1, "again", idempotencyKey: "fork-1");
        var again = await _runs.ForkAsync(source, 1, "again", idempotencyKey: "fork-1");
        var reused = await ProblemAssert.IsProblem(
            await _runs.ForkRawAsync(source, new JsonObject { ["from_step"] = 2 }, "fork-1"), (HttpStatusCode)422);

        Assert.Equal(first, again);
        Assert.Equal(["Idempotency-Key"], ProblemAssert.Fields(reused));
        await using var db = _app.CreateDbContext();
        Assert.Equal(1, await db.Runs.CountAsync(r => r.ForkedFrom == Guid.Parse(source)));
    }

    [Fact]
    public async Task A_fork_after_the_workflow_definition_changed_runs_on_the_current_one_and_says_so()
    {
        await _runs.CreateWorkflowAsync(Samples.Workflow());
        var source = await _runs.StartAsync("code-review");
        await _runs.WaitForAsync(source, "completed");
        await using (var db = _app.CreateDbContext())
        {
            await db.Database.ExecuteSqlAsync($"UPDATE workflows SET config = jsonb_set(config, '{{description}}', '\"edited\"')");
        }

        var fork = await _runs.ForkAsync(source, 1);
        await _runs.WaitForAsync(fork, "completed");

        var forkedFrom = Assert.Single(await AuditOfTypeAsync(fork, "run.forked_from"));
        var forked = Assert.Single(await AuditOfTypeAsync(source, "run.forked"));
        Assert.True(forkedFrom["definition_changed"]!.GetValue<bool>());
        Assert.Contains("current definition", forkedFrom["note"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(fork, forked["fork_run_id"]!.GetValue<string>());
    }

    private async Task<List<(int Index, string Agent, string? Decision, string? Output)>> CompletedStepsAsync(string runId)
    {
        await using var db = _app.CreateDbContext();
        var rows = await db.Steps.AsNoTracking().Where(s => s.RunId == Guid.Parse(runId) && s.Status == StepStatus.Completed)
            .OrderBy(s => s.Index).Select(s => new { s.Index, s.Agent, s.Decision, s.Output }).ToListAsync();
        return [.. rows.Select(r => (r.Index, r.Agent, r.Decision, r.Output))];
    }

    private async Task<List<JsonNode>> AuditOfTypeAsync(string runId, string type) =>
        [.. (await _runs.AuditAsync(runId)).Where(e => e["type"]!.GetValue<string>() == type).Select(e => e["detail"]!)];

    private async Task WaitForFailedAttemptAsync(string runId)
    {
        for (var i = 0; i < 300; i++)
        {
            if ((await _runs.StatusAsync(runId))["steps"]!.AsArray().Any(s => s!["status"]!.GetValue<string>() == "failed"))
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new Xunit.Sdk.XunitException($"Run {runId} had no failed attempt in time.");
    }
}
