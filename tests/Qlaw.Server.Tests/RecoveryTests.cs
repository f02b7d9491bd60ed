using System.Net;
using System.Text.Json.Nodes;
using Npgsql;
using Qlaw.AppHost.LocalStack;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// Self-healing: whatever happens to the Durable store or the process between two writes, every accepted run reaches
/// its end with one completed step row per step, and a <c>run.recovered</c> audit row wherever recovery acted.
/// </summary>
[Collection(QlawStackCollectionDefinition.Name)]
public sealed class RecoveryTests(QlawStackFixture stack)
{
    // Quick recovery for tests: the reconciler looks every second, probes runs quiet for a second.
    private static readonly Dictionary<string, string?> FastRecovery = new()
    {
        ["Recovery:DispatchIntervalMs"] = "200",
        ["Recovery:ReconcileIntervalSeconds"] = "1",
        ["Recovery:ProbeAfterSeconds"] = "1",
        ["Recovery:StaleAfterSeconds"] = "5",
        ["Recovery:HeartbeatSeconds"] = "1",
    };

    [Fact]
    public async Task A_process_that_dies_between_committing_a_run_and_scheduling_it_loses_nothing()
    {
        var url = new Uri($"http://127.0.0.1:{Network.FreePort()}");
        var settings = With(
            new Dictionary<string, string?>((await stack.ServerSettingsAsync()).Concat(FastRecovery)),
            ("Database:SeedWorkflowsPath", Samples.WorkflowsFolder));
        using var http = new HttpClient { BaseAddress = url };
        await using (var doomed = await ServerProcess.StartAsync(url, With(settings, ("Recovery:CrashAfterRunCommitted", "true")), echo: false))
        {
            await Assert.ThrowsAnyAsync<HttpRequestException>(() =>
                http.PostAsync("/v1/workflows/code-review/runs", JsonContent("""{"input":"add two numbers"}""")));
            await doomed.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        }

        await using var server = await ServerProcess.StartAsync(url, settings, echo: false);
        var runs = new RunsClient(http);
        var listed = JsonNode.Parse(await http.GetStringAsync("/v1/workflows/code-review/runs"))!["data"]!.AsArray();
        var runId = Assert.Single(listed)!["id"]!.GetValue<string>();

        var status = await runs.WaitForAsync(runId, "completed", timeoutSeconds: 90);

        AssertOneCompletedStepPerIndex(status);
    }

    [Theory]
    [InlineData("Recovery:CrashAfterRunCommitted")]
    [InlineData("Recovery:CrashAfterSignalRaised")]
    public async Task A_process_that_dies_while_forking_a_run_loses_nothing_and_duplicates_nothing(string fault)
    {
        var url = new Uri($"http://127.0.0.1:{Network.FreePort()}");
        var settings = With(
            new Dictionary<string, string?>((await stack.ServerSettingsAsync()).Concat(FastRecovery)),
            ("Database:SeedWorkflowsPath", Samples.WorkflowsFolder));
        using var http = new HttpClient { BaseAddress = url };
        var runs = new RunsClient(http);
        string source;
        await using (var first = await ServerProcess.StartAsync(url, settings, echo: false))
        {
            source = await runs.StartAsync("code-review");
            await runs.WaitForAsync(source, "completed");
        }

        await using (var doomed = await ServerProcess.StartAsync(url, With(settings, (fault, "true")), echo: false))
        {
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => runs.ForkRawAsync(source, new JsonObject { ["from_step"] = 2, ["input"] = "again" }));
            await doomed.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        }

        await using var server = await ServerProcess.StartAsync(url, settings, echo: false);
        var listed = JsonNode.Parse(await http.GetStringAsync("/v1/runs?limit=100"))!["data"]!.AsArray();
        var fork = Assert.Single(listed, r => r!["forked_from"]?.GetValue<string>() == source)!["id"]!.GetValue<string>();

        var status = await runs.WaitForAsync(fork, "completed", timeoutSeconds: 90);

        AssertOneCompletedStepPerIndex(status);
        Assert.Equal(2, listed.Count);
        Assert.Equal(5, status["steps"]!.AsArray().Count(s => s!["status"]!.GetValue<string>() == "completed"));
        var types = (await runs.AuditAsync(fork)).Select(e => e["type"]!.GetValue<string>()).ToList();
        Assert.Single(types, t => t == "run.forked_from");
        Assert.Equal(2, types.Count(t => t == "step.completed"));
        Assert.Equal(2, types.Count(t => t is "handoff" or "return"));
        Assert.Single(types, t => t == "run.completed");
        Assert.Single(await runs.AuditAsync(source), e => e["type"]!.GetValue<string>() == "run.forked");
    }

    [Fact]
    public async Task Runs_in_flight_when_their_task_hub_is_lost_are_listed_as_stale_and_re_driven_from_postgres()
    {
        var database = await stack.CreateDatabaseAsync();
        var slow = With(FastRecovery, ("Models:Scripted:TurnDelayMs", "300"));
        var runIds = new List<string>();
        await using (var first = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>(slow), database))
        {
            var runs = new RunsClient(first.CreateClient());
            await runs.CreateWorkflowAsync(Samples.Workflow());
            for (var i = 0; i < 4; i++)
            {
                runIds.Add(await runs.StartAsync("code-review"));
            }

            await runs.WaitForAsync(runIds[^1], "running");
        }

        // The hub the runs lived on is gone. A server on a fresh hub with its reconciler idle shows them as stale.
        await using (var observer = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["Recovery:ReconcileIntervalSeconds"] = "3600",
            ["Recovery:StaleAfterSeconds"] = "5",
        }, database))
        {
            var http = observer.CreateClient();
            await Task.Delay(TimeSpan.FromSeconds(6));
            var stale = JsonNode.Parse(await http.GetStringAsync("/v1/runs?stale=true&limit=100"))!["data"]!.AsArray();
            Assert.Equal(runIds.Order(StringComparer.Ordinal), stale.Select(r => r!["id"]!.GetValue<string>()).Order(StringComparer.Ordinal));
            var running = JsonNode.Parse(await http.GetStringAsync("/v1/runs?status=running"))!["data"]!.AsArray();
            Assert.NotEmpty(running);
            Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/v1/runs?status=sleeping")).StatusCode);
        }

        // A server with its reconciler on re-drives every one of them to completion.
        await using var healer = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>(FastRecovery), database);
        var client = new RunsClient(healer.CreateClient());
        foreach (var runId in runIds)
        {
            var status = await client.WaitForAsync(runId, "completed", timeoutSeconds: 90);
            AssertOneCompletedStepPerIndex(status);
            var audit = await client.AuditAsync(runId);
            var recovered = audit.Where(e => e["type"]!.GetValue<string>() == "run.recovered").ToList();
            Assert.NotEmpty(recovered);
            Assert.Contains("orchestration instance", recovered[0]["detail"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_turn_that_finds_PostgreSQL_out_of_reach_longer_than_its_retries_waits_for_it_and_the_run_completes_without_dead_letter_or_re_drive()
    {
        await using var relay = new TcpRelay(stack.Postgres.Port);
        var database = new NpgsqlConnectionStringBuilder(await stack.CreateDatabaseAsync()) { Port = relay.Port }.ConnectionString;
        await using var app = await QlawApplication.StartAsync(
            stack, new Dictionary<string, string?>(FastRecovery) { ["Models:Scripted:TurnDelayMs"] = "1000" }, database: database);
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

    [Fact]
    public async Task A_slow_turn_that_still_heartbeats_is_not_re_driven()
    {
        await using var app = await QlawApplication.StartAsync(stack, With(FastRecovery, ("Models:Scripted:TurnDelayMs", "7000"), ("Recovery:StaleAfterSeconds", "3")));
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

    [Fact]
    public async Task A_SIGKILL_of_azurite_mid_load_loses_no_run_and_duplicates_no_step()
    {
        var root = RepositoryRoot.Find();
        var data = Path.Combine(Path.GetTempPath(), $"qlaw-azurite-{Guid.NewGuid():N}");
        var (blob, queue, table) = (Network.FreePort(), Network.FreePort(), Network.FreePort());
        var azurite = await LocalAzurite.StartAsync(root, data, blob, queue, table, echo: false);
        try
        {
            await using var app = await QlawApplication.StartAsync(stack, With(FastRecovery, ("Models:Scripted:TurnDelayMs", "100")), durableStorage: azurite.ConnectionString);
            var runs = new RunsClient(app.CreateClient());
            await runs.CreateWorkflowAsync(Samples.Workflow());
            var runIds = new List<string>();
            for (var i = 0; i < 8; i++)
            {
                runIds.Add(await runs.StartAsync("code-review"));
            }

            await Task.Delay(800);
            azurite.Kill();
            await azurite.DisposeAsync();
            await Task.Delay(1500);
            azurite = await LocalAzurite.StartAsync(root, data, blob, queue, table, echo: false);

            foreach (var runId in runIds)
            {
                AssertOneCompletedStepPerIndex(await runs.WaitForAsync(runId, "completed", timeoutSeconds: 120));
            }
        }
        finally
        {
            await azurite.DisposeAsync();
            Directory.Delete(data, recursive: true);
        }
    }

    // One completed attempt per step index, in order, from the planner to the judge's verdict.
    private static void AssertOneCompletedStepPerIndex(JsonNode status)
    {
        var completed = status["steps"]!.AsArray().Where(s => s!["status"]!.GetValue<string>() == "completed").ToList();
        Assert.Equal(Enumerable.Range(0, completed.Count), completed.Select(s => s!["index"]!.GetValue<int>()).Order());
        Assert.Equal("planner", completed.MinBy(s => s!["index"]!.GetValue<int>())!["agent"]!.GetValue<string>());
        Assert.Equal("judge", completed.MaxBy(s => s!["index"]!.GetValue<int>())!["agent"]!.GetValue<string>());
    }

    private static Dictionary<string, string?> With(IDictionary<string, string?> settings, params (string Key, string Value)[] extra)
    {
        var all = new Dictionary<string, string?>(settings);
        foreach (var (key, value) in extra)
        {
            all[key] = value;
        }

        return all;
    }

    private static StringContent JsonContent(string json) => new(json, System.Text.Encoding.UTF8, "application/json");
}
