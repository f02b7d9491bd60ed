using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaw.Core.Orchestration;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>Retention: ended runs past Retention:DeleteRunsAfterSeconds are deleted with everything they wrote and their hub history.</summary>
[Collection(QlawStackCollections.Api)]
public sealed class RetentionTests(QlawStackFixture stack) : IAsyncLifetime
{
    private QlawApplication _app = null!;
    private RunsClient _runs = null!;

    public async Task InitializeAsync()
    {
        _app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["Retention:DeleteRunsAfterSeconds"] = "604800",
            ["Retention:IntervalSeconds"] = "1",
            ["Retention:BatchSize"] = "1",
            ["Retention:HubHistorySeconds"] = "0",
        });
        _runs = new RunsClient(_app.CreateClient());
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Ended_runs_older_than_the_setting_are_deleted_with_their_rows_and_history_in_batches_and_the_rest_kept()
    {
        await _runs.CreateWorkflowAsync(Samples.Workflow());
        var old = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            var id = await _runs.StartAsync("code-review");
            await _runs.WaitForAsync(id, "completed");
            old.Add(Guid.Parse(id));
        }

        var recent = Guid.Parse(await _runs.StartAsync("code-review"));
        await _runs.WaitForAsync(recent.ToString(), "completed");
        var scheduler = _app.Services.GetRequiredService<IRunScheduler>();
        foreach (var id in old)
        {
            Assert.Equal(InstanceState.Completed, await HubState.EndedAsync(scheduler, $"run-{id:N}"));
        }

        // Arrange: three runs ended eight days ago.
        await using (var db = _app.CreateDbContext())
        {
            var longAgo = DateTimeOffset.UtcNow.AddDays(-8);
            await db.Runs.Where(r => old.Contains(r.Id)).ExecuteUpdateAsync(r => r.SetProperty(x => x.CompletedAt, longAgo));
        }

        await WaitUntilAsync(async () =>
        {
            await using var db = _app.CreateDbContext();
            return !await db.Runs.AnyAsync(r => old.Contains(r.Id));
        });

        await AssertNoRowsAsync(_app, old);
        await using var check = _app.CreateDbContext();
        foreach (var id in old)
        {
            Assert.Equal(InstanceState.Missing, await scheduler.GetStateAsync($"run-{id:N}", CancellationToken.None));
        }

        Assert.True(await check.RunEvents.AnyAsync(e => e.RunId == recent));
        Assert.Equal(InstanceState.Completed, await HubState.EndedAsync(scheduler, $"run-{recent:N}"));
        Assert.Equal("completed", (await _runs.StatusAsync(recent.ToString()))["status"]!.GetValue<string>());
    }

    // No row the runs wrote is left: steps, handoffs, events, audit entries, signals.
    internal static async Task AssertNoRowsAsync(QlawApplication app, List<Guid> ids)
    {
        await using var check = app.CreateDbContext();
        Assert.Equal(0, await check.Steps.CountAsync(s => ids.Contains(s.RunId)));
        Assert.Equal(0, await check.Handoffs.CountAsync(h => ids.Contains(h.RunId)));
        Assert.Equal(0, await check.RunEvents.CountAsync(e => ids.Contains(e.RunId)));
        Assert.Equal(0, await check.AuditLogs.CountAsync(a => a.RunId != null && ids.Contains(a.RunId.Value)));
        Assert.Equal(0, await check.RunSignals.CountAsync(s => ids.Contains(s.RunId)));
    }

    // The retention passes run in the background.
    internal static Task WaitUntilAsync(Func<Task<bool>> condition) =>
        Poll.UntilAsync(condition, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100), "The condition did not hold within 60 s.");
}

/// <summary>
/// Hub history retention: the Durable Task history of orchestrations that ended is purged soon after, while PostgreSQL
/// keeps the runs; orchestrations still under way, such as a run waiting for an answer, keep theirs.
/// </summary>
[Collection(QlawStackCollections.Api)]
public sealed class HubHistoryRetentionTests(QlawStackFixture stack) : IAsyncLifetime
{
    private QlawApplication _app = null!;
    private RunsClient _runs = null!;

    public async Task InitializeAsync()
    {
        _app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["Retention:HubHistorySeconds"] = "1",
            ["Retention:HubHistoryIntervalSeconds"] = "1",
        });
        _runs = new RunsClient(_app.CreateClient());
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Ended_orchestrations_lose_their_hub_history_while_runs_under_way_keep_theirs_and_resume()
    {
        await _runs.CreateWorkflowAsync(Samples.Workflow());
        await _runs.CreateWorkflowAsync(Samples.Workflow("human-in-the-loop"));
        var waiting = await _runs.StartAsync("human-in-the-loop");
        var completed = await _runs.StartAsync("code-review");
        await _runs.WaitForAsync(completed, "completed");
        await _runs.WaitForAsync(waiting, "awaiting_input");
        var scheduler = _app.Services.GetRequiredService<IRunScheduler>();

        await RetentionTests.WaitUntilAsync(async () =>
            await scheduler.GetStateAsync($"run-{Guid.Parse(completed):N}", CancellationToken.None) == InstanceState.Missing);

        // The purge passes keep running while the other run waits; its orchestration is untouched and takes the answer.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(InstanceState.Running, await scheduler.GetStateAsync($"run-{Guid.Parse(waiting):N}", CancellationToken.None));
        var answer = await _runs.PostAsync(waiting, "continue", new JsonObject { ["input"] = "C#" });
        Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
        var resumed = await _runs.WaitForAsync(waiting, "completed");
        Assert.Equal(["planner:completed:1", "planner:completed:1", "coder:completed:1", "judge:completed:1"], RunsClient.Steps(resumed));
        await RetentionTests.WaitUntilAsync(async () =>
            await scheduler.GetStateAsync($"run-{Guid.Parse(waiting):N}", CancellationToken.None) == InstanceState.Missing);

        // PostgreSQL still has all of the purged run: its status, and its stream replayed to the end.
        var status = await _runs.StatusAsync(completed);
        Assert.Equal("completed", status["status"]!.GetValue<string>());
        Assert.Equal(5, RunsClient.Steps(status).Count);
        var stream = await _app.CreateClient().GetStringAsync($"/v1/runs/{completed}/responses");
        Assert.Contains("response.completed", stream, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", stream, StringComparison.Ordinal);
    }
}
