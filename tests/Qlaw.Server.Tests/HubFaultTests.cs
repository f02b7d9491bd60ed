using Azure.Data.Tables;
using Microsoft.EntityFrameworkCore;
using Qlaw.Testing;
using static Qlaw.Server.Tests.RecoveryTests;

namespace Qlaw.Server.Tests;

/// <summary>
/// An orchestration whose hub state is broken: its history rows are deleted mid-turn, as a storage that lost its last
/// writes leaves them, so each of its episodes fails. The provider asked the dispatcher to pause 10 s after each such
/// failure, before each of its next five fetches; one fetcher serves every run, and the broken instance failed again
/// before the five were done, so the re-driven instance's start waited behind it for minutes.
/// </summary>
[Collection(QlawStackCollections.Recovery)]
public sealed class HubFaultTests(QlawStackFixture stack)
{
    [Fact]
    public async Task A_run_whose_hub_history_is_lost_is_re_driven_to_completion_while_another_run_is_served()
    {
        var hubName = QlawStackFixture.IsolatedHubSettings()["Durable:HubName"]!;
        await using var app = await QlawApplication.StartAsync(
            stack, With(FastRecovery, ("Durable:HubName", hubName), ("Models:Scripted:TurnDelayMs", "1500")));
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Workflow());
        var broken = await runs.StartAsync("code-review");
        await Poll.UntilAsync(
            async () => RunsClient.Steps(await runs.StatusAsync(broken)).Count > 0,
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50), "The first turn did not start within 30 s.");

        // Mid-turn: the orchestration's history (and the sentinel row its next write is checked against) disappears.
        string instance;
        await using (var db = app.CreateDbContext())
        {
            instance = (await db.Runs.SingleAsync(r => r.Id == Guid.Parse(broken))).EntityId!;
        }

        var history = new TableClient(stack.Azurite.ConnectionString, $"{hubName}History");
        await foreach (var row in history.QueryAsync<TableEntity>(e => e.PartitionKey == instance, select: ["PartitionKey", "RowKey"]))
        {
            await history.DeleteEntityAsync(row.PartitionKey, row.RowKey);
        }

        // Another run is served meanwhile.
        var other = await runs.StartAsync("code-review");
        AssertOneCompletedStepPerIndex(await runs.WaitForAsync(other, "completed", timeoutSeconds: 60));

        // The broken one is re-driven from PostgreSQL on a new instance and completes, each step once (14 s here; with
        // the provider's 10-s pause it had not completed after 90 s, its episodes failing 13 times meanwhile).
        AssertOneCompletedStepPerIndex(await runs.WaitForAsync(broken, "completed", timeoutSeconds: 90));
        Assert.Contains(await runs.AuditAsync(broken), a => a["type"]!.GetValue<string>() == "run.recovered");
    }
}
