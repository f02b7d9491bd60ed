using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaw.Core.Orchestration;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>Retention: ended runs past Retention:Days are deleted with everything they wrote and their hub history.</summary>
[Collection(QlawStackCollections.Streams)]
public sealed class RetentionTests(QlawStackFixture stack) : IAsyncLifetime
{
    private QlawApplication _app = null!;
    private RunsClient _runs = null!;

    public async Task InitializeAsync()
    {
        _app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["Retention:Days"] = "7",
            ["Retention:IntervalSeconds"] = "1",
            ["Retention:BatchSize"] = "1",
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
        Assert.Equal(InstanceState.Completed, await scheduler.GetStateAsync($"run-{old[0]:N}", CancellationToken.None));

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

        await using var check = _app.CreateDbContext();
        Assert.Equal(0, await check.Steps.CountAsync(s => old.Contains(s.RunId)));
        Assert.Equal(0, await check.Handoffs.CountAsync(h => old.Contains(h.RunId)));
        Assert.Equal(0, await check.RunEvents.CountAsync(e => old.Contains(e.RunId)));
        Assert.Equal(0, await check.AuditLogs.CountAsync(a => a.RunId != null && old.Contains(a.RunId.Value)));
        Assert.Equal(0, await check.RunSignals.CountAsync(s => old.Contains(s.RunId)));
        foreach (var id in old)
        {
            Assert.Equal(InstanceState.Missing, await scheduler.GetStateAsync($"run-{id:N}", CancellationToken.None));
        }

        Assert.True(await check.RunEvents.AnyAsync(e => e.RunId == recent));
        Assert.Equal(InstanceState.Completed, await scheduler.GetStateAsync($"run-{recent:N}", CancellationToken.None));
        Assert.Equal("completed", (await _runs.StatusAsync(recent.ToString()))["status"]!.GetValue<string>());
    }

    // A bound on waiting for the background pass, not a timing assertion.
    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 600; i++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new Xunit.Sdk.XunitException("The condition did not hold within 60 s.");
    }
}
