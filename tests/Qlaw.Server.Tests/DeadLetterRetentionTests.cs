using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Qlaw.Core.Orchestration;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// Failing runs are bounded end to end: each is dead-lettered, abandoned after <c>Recovery:AbandonDeadLettersAfterSeconds</c>
/// with its orchestration ended, then deleted after <c>Retention:DeleteRunsAfterSeconds</c> with every row it wrote and
/// its hub history. The bench's <c>deadletters</c> scenario shows the same at 10,000 runs.
/// </summary>
[Collection(QlawStackCollections.Api)]
public sealed class DeadLetterRetentionTests(QlawStackFixture stack) : IAsyncLifetime
{
    private const int Runs = 20;
    private QlawApplication _app = null!;
    private RunsClient _runs = null!;

    public async Task InitializeAsync()
    {
        _app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["Recovery:AbandonDeadLettersAfterSeconds"] = "2",
            ["Recovery:ReconcileIntervalSeconds"] = "1",
            ["Recovery:DispatchIntervalMs"] = "200",
            ["Retention:DeleteRunsAfterSeconds"] = "2",
            ["Retention:IntervalSeconds"] = "1",
        });
        _runs = new RunsClient(_app.CreateClient());
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Failing_runs_leave_no_orchestration_waiting_after_the_abandon_time_and_no_row_after_retention()
    {
        var doomed = Samples.Workflow(newName: "doomed");
        doomed["agents"]![0]!["script"] = new JsonArray(new JsonObject { ["say"] = "trying", ["call"] = "complete", ["fail_permanent"] = true });
        await _runs.CreateWorkflowAsync(doomed);

        // Each state lasts at least two seconds (the abandon time, then the retention time): polled ten times a second
        // from before the first run starts, every run is seen dead-lettered (failed, no end), then abandoned (failed,
        // ended), then gone. Once abandoned, its orchestration must stop waiting: terminated, or already purged.
        var scheduler = _app.Services.GetRequiredService<IRunScheduler>();
        var started = new List<Guid>();
        var seen = new ConcurrentDictionary<Guid, HashSet<string>>();
        var orchestrations = new Dictionary<Guid, Task<InstanceState>>();
        var polling = RetentionTests.WaitUntilAsync(async () =>
        {
            List<Guid> ids;
            lock (started)
            {
                ids = [.. started];
            }

            await using var db = _app.CreateDbContext();
            var rows = await db.Runs.Where(r => ids.Contains(r.Id)).Select(r => new { r.Id, r.Status, Ended = r.CompletedAt != null }).ToListAsync();
            foreach (var id in ids.Except(rows.Select(r => r.Id)))
            {
                seen[id].Add("gone");
            }

            foreach (var row in rows)
            {
                seen[row.Id].Add($"{row.Status}{(row.Ended ? ":ended" : "")}".ToLowerInvariant());
                if (row.Ended)
                {
                    orchestrations.TryAdd(row.Id, HubState.EndedAsync(scheduler, $"run-{row.Id:N}"));
                }
            }

            return ids.Count == Runs && rows.Count == 0;
        });

        for (var i = 0; i < Runs; i++)
        {
            // A run's id is polled once its start returned, so its row exists by then.
            var id = Guid.Parse(await _runs.StartAsync("doomed"));
            lock (started)
            {
                seen[id] = [];
                started.Add(id);
            }
        }

        await polling;
        var ids = started;
        Assert.All(ids, id => Assert.Superset(new HashSet<string> { "failed", "failed:ended", "gone" }, seen[id]));
        Assert.All(ids, id => Assert.Subset(new HashSet<string> { "queued", "running", "failed", "failed:ended", "gone" }, seen[id]));
        Assert.All(await Task.WhenAll(orchestrations.Values), state => Assert.Contains(state, (InstanceState[])[InstanceState.Terminated, InstanceState.Missing]));
        foreach (var id in ids)
        {
            Assert.Equal(InstanceState.Missing, await scheduler.GetStateAsync($"run-{id:N}", CancellationToken.None));
        }

        await RetentionTests.AssertNoRowsAsync(_app, ids);
    }
}
