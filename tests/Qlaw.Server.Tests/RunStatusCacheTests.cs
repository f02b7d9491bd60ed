using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Qlaw.AppHost.LocalStack;
using Qlaw.Testing;
using StackExchange.Redis;

namespace Qlaw.Server.Tests;

/// <summary>
/// Status snapshots of ended runs in Redis: cached only when final, and never needed. Nothing here is measured against
/// a clock and each test has its own key space (and its own Redis to kill), so it runs beside the other collections.
/// </summary>
[Collection(QlawStackCollections.Recovery)]
public sealed class RunStatusCacheTests(QlawStackFixture stack, RedisFixture redis) : IClassFixture<RedisFixture>
{
    // Each test has its own key space on the shared Redis.
    private readonly string _prefix = $"t{Guid.NewGuid():N}:";

    [Fact]
    public async Task A_completed_runs_status_is_cached_in_redis_and_then_served_from_there()
    {
        await using var app = await StartAsync(redis.Redis.ConnectionString);
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Workflow());
        var runId = await runs.StartAsync("code-review");

        var completed = await runs.WaitForAsync(runId, "completed");

        var key = Assert.Single(await CachedKeysAsync(redis.Redis));
        Assert.Contains(Guid.Parse(runId).ToString("N"), key, StringComparison.Ordinal);
        await using (var db = app.CreateDbContext())
        {
            // Behind the cache's back: a cached snapshot does not see it.
            await db.Runs.Where(r => r.Id == Guid.Parse(runId)).ExecuteUpdateAsync(u => u.SetProperty(r => r.LastError, "changed in PostgreSQL"));
        }

        var again = await runs.StatusAsync(runId);
        Assert.Null(again["last_error"]);
        Assert.Equal(completed.ToJsonString(), again.ToJsonString());
    }

    [Fact]
    public async Task A_running_runs_status_is_not_cached()
    {
        await using var app = await StartAsync(redis.Redis.ConnectionString, turnDelayMs: 5000);
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Scripted("slow", "complete"));
        var runId = await runs.StartAsync("slow");

        await runs.WaitForAsync(runId, "running");
        await runs.StatusAsync(runId);
        Assert.Empty(await CachedKeysAsync(redis.Redis));

        await runs.WaitForAsync(runId, "completed");
        Assert.Single(await CachedKeysAsync(redis.Redis));
    }

    [Fact]
    public async Task A_cancelled_runs_status_is_cached_once_it_can_no_longer_change_its_running_attempt_stopped_with_it()
    {
        const int turnDelayMs = 4000;
        await using var app = await StartAsync(redis.Redis.ConnectionString, turnDelayMs);
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Scripted("cancelled", "complete"));
        var runId = await runs.StartAsync("cancelled");
        await runs.WaitForAsync(runId, "running");

        Assert.Equal(HttpStatusCode.Accepted, (await runs.PostAsync(runId, "cancel")).StatusCode);

        // The cancel stops the attempt that was running in the same write: nothing about the run can change any more.
        var cancelled = await runs.WaitForAsync(runId, "cancelled");
        Assert.Equal(["planner:failed:1"], RunsClient.Steps(cancelled));
        Assert.Equal("cancelled", cancelled["steps"]![0]!["error_code"]!.GetValue<string>());
        Assert.Single(await CachedKeysAsync(redis.Redis));
        // Past the end the stopped turn would have had: it wrote nothing.
        await Task.Delay(turnDelayMs + 500);
        Assert.Equal(RunsClient.Steps(cancelled), RunsClient.Steps(await runs.StatusAsync(runId)));
    }

    [Fact]
    public async Task Status_comes_from_postgres_after_redis_dies()
    {
        await using var ownRedis = await LocalRedis.StartAsync(Network.FreePort(), echo: false);
        await using var app = await StartAsync(ownRedis.ConnectionString);
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Workflow());
        var first = await runs.StartAsync("code-review");
        await runs.WaitForAsync(first, "completed");
        Assert.Single(await CachedKeysAsync(ownRedis));

        ownRedis.Kill();
        await ownRedis.WaitForExitAsync();

        var response = await runs.Http.GetAsync($"/v1/runs/{first}/status");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("completed", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["status"]!.GetValue<string>());
        var second = await runs.StartAsync("code-review");
        var completed = await runs.WaitForAsync(second, "completed");
        Assert.Equal(5, RunsClient.Steps(completed).Count);
    }

    [Fact]
    public async Task Status_comes_from_postgres_when_redis_was_never_reachable()
    {
        await using var app = await StartAsync($"127.0.0.1:{Network.FreePort()}");
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Workflow());

        var runId = await runs.StartAsync("code-review");

        var completed = await runs.WaitForAsync(runId, "completed");
        Assert.Equal(5, RunsClient.Steps(completed).Count);
        Assert.Equal(HttpStatusCode.OK, (await runs.Http.GetAsync($"/v1/runs/{runId}/status")).StatusCode);
    }

    private Task<QlawApplication> StartAsync(string redisConnectionString, int turnDelayMs = 0) =>
        QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = redisConnectionString,
            ["Redis:KeyPrefix"] = _prefix,
            ["Models:Scripted:TurnDelayMs"] = turnDelayMs.ToString(),
        });

    private async Task<List<string>> CachedKeysAsync(LocalRedis server)
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString);
        var keys = new List<string>();
        await foreach (var key in connection.GetServer(connection.GetEndPoints()[0]).KeysAsync(pattern: _prefix + "*"))
        {
            keys.Add(key.ToString());
        }

        return keys;
    }

    /// <summary>The sample workflow renamed, its planner playing one turn that makes <paramref name="call"/>.</summary>
    private static JsonObject Scripted(string name, string call)
    {
        var workflow = Samples.Workflow(newName: name);
        workflow["agents"]![0]!["script"] = new JsonArray(new JsonObject { ["say"] = "plan", ["call"] = call });
        return workflow;
    }
}
