using System.Text.Json.Nodes;
using Npgsql;
using Qlaw.Testing;
using static Qlaw.Server.Tests.RecoveryTests;

namespace Qlaw.Server.Tests;

/// <summary>
/// A long turn's heartbeats keep the reconciler away. Its margin is seconds of timer delay (a beat a second, stale
/// after five), so it runs late rather than beside the parallel collections that share this process's thread pool.
/// </summary>
[Collection(QlawStackCollections.LateOutages)]
public sealed class HeartbeatTests(QlawStackFixture stack)
{
    [Fact]
    public async Task A_slow_turn_that_still_heartbeats_is_not_re_driven()
    {
        await using var app = await QlawApplication.StartAsync(stack, With(FastRecovery, ("Models:Scripted:TurnDelayMs", "10000"), ("Recovery:StaleAfterSeconds", "5")));
        var runs = new RunsClient(app.CreateClient());
        var workflow = Samples.Workflow(newName: "slow");
        workflow["agents"]![0]!["script"] = new JsonArray(new JsonObject { ["say"] = "done", ["call"] = "complete" });
        await runs.CreateWorkflowAsync(workflow);

        var runId = await runs.StartAsync("slow");
        var status = await runs.WaitForAsync(runId, "completed", timeoutSeconds: 60);

        var step = Assert.Single(status["steps"]!.AsArray());
        Assert.Equal(1, step!["attempt"]!.GetValue<int>());
        Assert.DoesNotContain(await runs.AuditAsync(runId), e => e["type"]!.GetValue<string>() == "run.recovered");
        await using var connection = new NpgsqlConnection(app.PostgresConnectionString);
        await connection.OpenAsync();
        await using var beats = new NpgsqlCommand("SELECT count(*) FROM steps WHERE heartbeat_at IS NOT NULL", connection);
        Assert.Equal(1L, (long)(await beats.ExecuteScalarAsync())!);
    }
}
