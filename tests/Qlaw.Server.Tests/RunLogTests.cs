using System.Net;
using System.Text.Json.Nodes;
using Microsoft.DurableTask;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Qlaw.AppHost.LocalStack;
using Qlaw.Contracts;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Limits;
using Qlaw.Core.Orchestration;
using Qlaw.Core.Routing;
using Qlaw.Core.RunStore;
using Qlaw.Core.Turns;
using Qlaw.Data;
using Qlaw.Data.Runs;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// The run log under contention: one writer per run, so followers never miss the end of a run; one completed attempt
/// per step, however many run at once; one application of a signal, however often it is raised.
/// </summary>
[Collection(QlawStackCollections.Processes)]
public sealed class RunLogTests(QlawStackFixture stack)
{
    [Fact]
    public async Task Every_live_follower_receives_the_end_of_a_run_cancelled_while_it_streams_or_asks()
    {
        await using var app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["Models:Scripted:TokenDelayMs"] = "1",
            ["Streaming:DeltaWindowMs"] = "0",
            ["RateLimits:Enabled"] = "false",
        });
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Workflow(newName: "streamer"));
        var asker = Samples.Workflow(newName: "asker");
        asker["agents"]![0]!["script"] = new JsonArray(new JsonObject { ["say"] = "One question first, please.", ["call"] = "request_input", ["prompt"] = "Which language?" });
        await runs.CreateWorkflowAsync(asker);
        var random = new Random(7);

        var outcomes = new List<string>();
        for (var batch = 0; batch < 20; batch++)
        {
            var races = Enumerable.Range(0, 10).Select(i => RaceAsync(runs, i % 2 == 0 ? "streamer" : "asker", random.Next(0, 60))).ToList();
            outcomes.AddRange(await Task.WhenAll(races));
        }

        // Both orders happened: cancels that won the race, and runs that paused or ended first.
        Assert.Contains("cancelled", outcomes);
        Assert.Equal(200, outcomes.Count);
    }

    [Fact]
    public async Task Two_attempts_of_one_step_at_once_complete_it_once_and_report_the_same_outcome()
    {
        await using var app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["Models:Scripted:TurnDelayMs"] = "2000",
            ["Models:Scripted:TokenDelayMs"] = "10",
        });
        var runs = new RunsClient(app.CreateClient());
        var created = await runs.Http.PostAsync("/v1/workflows", RunsClient.Json(Samples.Workflow()));
        var workflowId = Guid.Parse(JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!.GetValue<string>());

        // A run whose turn is delivered twice (as after a crash): no orchestration drives it, the test runs the activity.
        var runId = Guid.NewGuid();
        await using (var db = app.CreateDbContext())
        {
            db.Runs.Add(new RunEntity
            {
                Id = runId, WorkflowId = workflowId, Status = RunStatus.Queued, Input = "add two numbers", EntityId = "run-twice",
                CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow, CurrentAgent = "planner",
            });
            await db.SaveChangesAsync();
        }

        var definition = System.Text.Json.JsonSerializer.Deserialize<WorkflowDefinition>(Samples.WorkflowJson("code-review"), QlawJson.Options)!;
        var plan = app.Services.GetRequiredService<IOptionsMonitor<RunOptions>>().CurrentValue
            .PlanFor(definition, app.Services.GetRequiredService<IOptionsMonitor<LimitsOptions>>().CurrentValue);
        var request = new TurnRequest(runId, "run-twice", RouteState.Start("planner"), null, null, null, plan);

        var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ =>
            ActivatorUtilities.CreateInstance<AgentTurnActivity>(app.Services).RunAsync(new TestActivityContext("run-twice"), request)));

        // As the hub keeps them in the orchestration's history.
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(results[0]), System.Text.Json.JsonSerializer.Serialize(results[1]));
        Assert.Equal("coder", Assert.IsType<RouteOutcome.Proceed>(results[0].Outcome).State.Agent);
        await using var check = app.CreateDbContext();
        var attempts = await check.Steps.Where(s => s.RunId == runId).OrderBy(s => s.Attempt).Select(s => s.Status).ToListAsync();
        Assert.Equal([StepStatus.Superseded, StepStatus.Completed], attempts);
        var audit = await check.AuditLogs.Where(a => a.RunId == runId).Select(a => a.Type).ToListAsync();
        Assert.Single(audit, t => t == AuditTypes.StepCompleted);
        var traces = await check.RunEvents.Where(e => e.RunId == runId && e.Type == "response.trace.complete").Select(e => e.Data).ToListAsync();
        Assert.Single(traces, t => t.Contains("ExecutorCompletedEvent", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0, "1000", true)]
    [InlineData(1000, "15", false)]
    public async Task An_attempt_commits_with_its_first_text_when_the_model_answers_within_the_delta_window_else_on_its_own(int turnDelayMs, string windowMs, bool together)
    {
        await using var app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["Models:Scripted:TurnDelayMs"] = turnDelayMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Streaming:DeltaWindowMs"] = windowMs,
        });
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Workflow());
        var runId = Guid.Parse(await runs.StartAsync("code-review"));
        await runs.WaitForAsync(runId.ToString(), "completed");

        // Per attempt: the transaction of its executor_invoked event (written with the attempt's row) and of its first
        // text. Events are never updated, so xmin is the transaction that wrote each.
        var commits = new List<(int Step, string Invoked, string FirstText)>();
        await using (var command = app.Services.GetRequiredService<Npgsql.NpgsqlDataSource>().CreateCommand(
            "SELECT i.step_index, i.xmin::text, (SELECT d.xmin::text FROM run_events d WHERE d.run_id = i.run_id AND d.step_index = i.step_index " +
            "AND d.attempt = i.attempt AND d.type = $2 ORDER BY d.id LIMIT 1) FROM run_events i " +
            "WHERE i.run_id = $1 AND i.data::text LIKE '%' || $3 || '%' ORDER BY i.id"))
        {
            command.Parameters.AddWithValue(runId);
            command.Parameters.AddWithValue(Qlaw.Contracts.Events.OutputTextDelta.Name);
            command.Parameters.AddWithValue(RunEvents.ExecutorInvoked);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                commits.Add((reader.GetInt32(0), reader.GetString(1), reader.GetString(2)));
            }
        }

        Assert.Equal([0, 1, 2, 3, 4], commits.Select(c => c.Step));
        Assert.All(commits, c => Assert.Equal(together, c.Invoked == c.FirstText));
    }

    [Fact]
    public async Task An_orchestration_whose_run_was_never_committed_stops_at_its_first_turn_and_writes_nothing()
    {
        // A run's start reaches the hub while the run's rows commit; when that commit fails (a concurrent request with the
        // same Idempotency-Key, the database, a crash), the hub holds an orchestration of a run that does not exist.
        await using var app = await QlawApplication.StartAsync(stack);
        var definition = System.Text.Json.JsonSerializer.Deserialize<WorkflowDefinition>(Samples.WorkflowJson("code-review"), QlawJson.Options)!;
        var plan = app.Services.GetRequiredService<IOptionsMonitor<RunOptions>>().CurrentValue
            .PlanFor(definition, app.Services.GetRequiredService<IOptionsMonitor<LimitsOptions>>().CurrentValue);
        var runId = Guid.NewGuid();
        var instance = $"run-{runId:N}";
        var scheduler = app.Services.GetRequiredService<IRunScheduler>();

        await scheduler.ScheduleAsync(instance, new RunOrchestrationInput(runId, plan, RouteState.Start("planner"), null, null), CancellationToken.None);

        Assert.Equal(InstanceState.Completed, await HubState.EndedAsync(scheduler, instance));
        await using var db = app.CreateDbContext();
        Assert.False(await db.Runs.AnyAsync(r => r.Id == runId));
        Assert.Equal(0, await db.Steps.CountAsync(s => s.RunId == runId));
        Assert.Equal(0, await db.AuditLogs.CountAsync(a => a.RunId == runId));
        Assert.Equal(0, await db.RunEvents.CountAsync(e => e.RunId == runId));
    }

    [Fact]
    public async Task A_continue_raised_again_after_a_crash_is_applied_once()
    {
        var url = new Uri($"http://127.0.0.1:{Network.FreePort()}");
        var settings = new Dictionary<string, string?>((await stack.ServerSettingsAsync()).Concat(RecoveryTests.QuickRedelivery))
        {
            ["Recovery:DispatchIntervalMs"] = "200",
        };
        using var http = new HttpClient { BaseAddress = url };
        var runs = new RunsClient(http);
        string runId;
        // Only the doomed server is a process of its own (the fault ends it); the others run in the test host.
        await using (var first = QlawApplication.StartAt(url, settings))
        {
            var workflow = Samples.Workflow("human-in-the-loop", "two-questions");
            workflow["agents"]![0]!["script"] = new JsonArray(
                new JsonObject { ["say"] = "First question.", ["call"] = "request_input", ["prompt"] = "Which language?" },
                new JsonObject { ["say"] = "Second question.", ["call"] = "request_input", ["prompt"] = "Which framework?" },
                new JsonObject { ["say"] = "Plan.", ["call"] = "handoff_to_coder" });
            await runs.CreateWorkflowAsync(workflow);
            runId = await runs.StartAsync("two-questions");
            await runs.WaitForAsync(runId, "awaiting_input");
        }

        // This process raises the continue on the hub and dies before it records the delivery.
        await using (var doomed = await ServerProcess.StartAsync(url, new Dictionary<string, string?>(settings) { ["Recovery:CrashAt"] = "SignalRaised" }, echo: false))
        {
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => runs.PostAsync(runId, "continue", new JsonObject { ["input"] = "C#" }));
            await doomed.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        }

        await using var server = QlawApplication.StartAt(url, settings);
        var id = Guid.Parse(runId);
        await using (var db = new QlawDbContext(new DbContextOptionsBuilder<QlawDbContext>().UseQlawPostgres(settings["ConnectionStrings:Postgres"]!).Options))
        {
            // The restarted process raises the continue again (the outbox delivers at least once)...
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!await db.RunSignals.AnyAsync(s => s.RunId == id && s.Kind == "continue" && s.DispatchedAt != null))
            {
                Assert.True(DateTime.UtcNow < deadline, "the continue signal was never delivered again");
                await Task.Delay(200);
            }
        }

        // ...and the orchestrator applied it once: the run asks its second question and waits for its own answer.
        await WaitForStepAsync(runs, runId, 2);
        await Task.Delay(TimeSpan.FromSeconds(3));
        var waiting = await runs.StatusAsync(runId);
        Assert.Equal("awaiting_input", waiting["status"]!.GetValue<string>());
        Assert.Equal(2, waiting["steps"]!.AsArray().Count);
        Assert.Single(await runs.AuditAsync(runId), e => e["type"]!.GetValue<string>() == "run.resumed");

        Assert.Equal(HttpStatusCode.Accepted, (await runs.PostAsync(runId, "continue", new JsonObject { ["input"] = "ASP.NET Core" })).StatusCode);
        await runs.WaitForAsync(runId, "completed", timeoutSeconds: 90);
        await using var rows = new QlawDbContext(new DbContextOptionsBuilder<QlawDbContext>().UseQlawPostgres(settings["ConnectionStrings:Postgres"]!).Options);
        var inputs = await rows.Steps.Where(s => s.RunId == id && s.Status == StepStatus.Completed).OrderBy(s => s.Index).Select(s => s.Input).ToListAsync();
        Assert.Equal(["C#", "ASP.NET Core"], inputs.Skip(1).Take(2));
    }

    // Starts a run, follows it, cancels it after a delay; the follower must end with the run's last event and [DONE].
    private static async Task<string> RaceAsync(RunsClient runs, string workflow, int delayMs)
    {
        var runId = await runs.StartAsync(workflow);
        var follower = SseClient.GetAsync(runs.Http, $"/v1/runs/{runId}/responses", timeoutSeconds: 30);
        await Task.Delay(delayMs);
        var cancel = await runs.PostAsync(runId, "cancel");
        Assert.True(cancel.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.Conflict, $"{cancel.StatusCode}");

        var stream = await follower;
        Assert.True(stream.SawDone, $"run {runId}: the follower got no [DONE]");
        var last = stream.Events[^1];
        Assert.True(last.Event is "response.completed" or "response.error", $"run {runId} ended on {last.Event}");
        return last.Data!["response"]?["status"]?.GetValue<string>() ?? "failed";
    }

    private static async Task WaitForStepAsync(RunsClient runs, string runId, int steps)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var status = await runs.StatusAsync(runId);
            if (status["status"]!.GetValue<string>() == "awaiting_input" && status["steps"]!.AsArray().Count == steps)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"run {runId} never paused after {steps} steps: {status.ToJsonString()}");
            await Task.Delay(200);
        }
    }

    private sealed class TestActivityContext(string instanceId) : TaskActivityContext
    {
        public override TaskName Name { get; } = RunOrchestrator.AgentTurn;

        public override string InstanceId { get; } = instanceId;
    }
}
