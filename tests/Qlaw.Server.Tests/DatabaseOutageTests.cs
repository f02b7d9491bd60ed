using Npgsql;
using Qlaw.Testing;
using static Qlaw.Server.Tests.RecoveryTests;

namespace Qlaw.Server.Tests;

/// <summary>
/// A turn outlasting a PostgreSQL outage by waiting, not by the reconciler. Its margins are seconds (heartbeats, a
/// stale run after ten against a four-second outage), so it runs late, away from the parallel collections: beside them it once saw the reconciler
/// re-drive the run.
/// </summary>
[Collection(QlawStackCollections.LateOutages)]
public sealed class DatabaseOutageTests(QlawStackFixture stack)
{
    [Fact]
    public async Task A_turn_that_finds_PostgreSQL_out_of_reach_longer_than_its_retries_waits_for_it_and_the_run_completes_without_dead_letter_or_re_drive()
    {
        await using var relay = new TcpRelay(stack.Postgres.Port);
        var database = new NpgsqlConnectionStringBuilder(await stack.CreateMigratedDatabaseAsync()) { Port = relay.Port }.ConnectionString;
        await using var app = await QlawApplication.StartAsync(
            stack, new Dictionary<string, string?>(FastRecovery) { ["Models:Scripted:TurnDelayMs"] = "1000", ["Recovery:StaleAfterSeconds"] = "10" }, database: database);
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Workflow(newName: "outage"));
        var runId = await runs.StartAsync("outage");
        for (var i = 0; i < 200 && !(await runs.StatusAsync(runId))["steps"]!.AsArray().Any(s => s!["status"]!.GetValue<string>() == "running"); i++)
        {
            await Task.Delay(25);
        }

        // Out of reach for longer than the turn's three attempts take (0.5 s and 1 s apart) and than the reconciler's probe.
        relay.Cut();
        await Task.Delay(TimeSpan.FromSeconds(4));
        relay.Restore();

        var status = await runs.WaitForAsync(runId, "completed", timeoutSeconds: 90);
        Assert.Equal(
            ["planner", "coder", "reviewer", "coder", "judge"],
            status["steps"]!.AsArray().Where(s => s!["status"]!.GetValue<string>() == "completed").Select(s => s!["agent"]!.GetValue<string>()));
        var types = (await runs.AuditAsync(runId)).Select(e => e["type"]!.GetValue<string>()).ToList();
        Assert.DoesNotContain("run.dead_lettered", types);
        Assert.DoesNotContain("run.recovered", types);
        Assert.Equal(5, types.Count(t => t == "step.completed"));
    }
}
