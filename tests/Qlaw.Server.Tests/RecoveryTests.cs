using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Qlaw.AppHost.LocalStack;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// Self-healing: whatever happens to the Durable store or the process between two writes, every accepted run reaches
/// its end with one completed step row per step, and a <c>run.recovered</c> audit row wherever recovery acted.
/// </summary>
[Collection(QlawStackCollections.Recovery)]
public sealed class RecoveryTests(QlawStackFixture stack)
{
    // Quick recovery for tests: the reconciler looks every second, probes runs quiet for a second.
    internal static readonly Dictionary<string, string?> FastRecovery = new()
    {
        ["Recovery:DispatchIntervalMs"] = "200",
        ["Recovery:ReconcileIntervalSeconds"] = "1",
        ["Recovery:ProbeAfterSeconds"] = "1",
        ["Recovery:StaleAfterSeconds"] = "5",
        ["Recovery:HeartbeatSeconds"] = "1",
    };

    // For a process that is killed: the hub's messages it had taken are seen again after five seconds instead of ten.
    internal static readonly Dictionary<string, string?> QuickRedelivery = new()
    {
        ["Durable:ControlQueueVisibilityTimeout"] = "00:00:05",
        ["Durable:WorkItemQueueVisibilityTimeout"] = "00:00:05",
    };

    [Fact]
    public async Task A_process_that_dies_between_committing_a_run_and_scheduling_it_loses_nothing()
    {
        var url = new Uri($"http://127.0.0.1:{Network.FreePort()}");
        var settings = With(
            new Dictionary<string, string?>((await stack.ServerSettingsAsync()).Concat(FastRecovery).Concat(QuickRedelivery)),
            ("Database:SeedWorkflowsPath", Samples.WorkflowsFolder));
        using var http = new HttpClient { BaseAddress = url };
        await using (var doomed = await ServerProcess.StartAsync(url, With(settings, ("Recovery:CrashAt", "RunCommitted")), echo: false))
        {
            await Assert.ThrowsAnyAsync<HttpRequestException>(() =>
                http.PostAsync("/v1/workflows/code-review/runs", JsonContent("""{"input":"add two numbers"}""")));
            await doomed.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        }

        // The next server needs no process of its own (nothing kills it).
        await using var server = QlawApplication.StartAt(url, settings);
        var runs = new RunsClient(http);
        var listed = JsonNode.Parse(await http.GetStringAsync("/v1/workflows/code-review/runs"))!["data"]!.AsArray();
        var runId = Assert.Single(listed)!["id"]!.GetValue<string>();

        var status = await runs.WaitForAsync(runId, "completed", timeoutSeconds: 90);

        AssertOneCompletedStepPerIndex(status);
    }

    [Theory]
    [InlineData("RunCommitted")]
    [InlineData("SignalRaised")]
    public async Task A_process_that_dies_while_forking_a_run_loses_nothing_and_duplicates_nothing(string fault)
    {
        var url = new Uri($"http://127.0.0.1:{Network.FreePort()}");
        var settings = With(
            new Dictionary<string, string?>((await stack.ServerSettingsAsync()).Concat(FastRecovery).Concat(QuickRedelivery)),
            ("Database:SeedWorkflowsPath", Samples.WorkflowsFolder));
        using var http = new HttpClient { BaseAddress = url };
        var runs = new RunsClient(http);
        string source;
        await using (var first = QlawApplication.StartAt(url, settings))
        {
            source = await runs.StartAsync("code-review");
            await runs.WaitForAsync(source, "completed");
        }

        await using (var doomed = await ServerProcess.StartAsync(url, With(settings, ("Recovery:CrashAt", fault)), echo: false))
        {
            // The process dies at the fault, usually under the request; when the request's delivery of the schedule
            // fails first (the hub still starting), the fork is accepted and the outbox's next delivery reaches the fault.
            try
            {
                await runs.ForkRawAsync(source, new JsonObject { ["from_step"] = 2, ["input"] = "again" });
            }
            catch (HttpRequestException)
            {
                // The answer was lost with the process.
            }

            await doomed.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        }

        await using var server = QlawApplication.StartAt(url, settings);
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
    public async Task A_run_whose_re_driven_orchestration_does_not_start_is_re_driven_again_only_after_twice_the_wait_each_time()
    {
        // The hub holds every new orchestration (its worker is stopped, as when it is far behind): each re-drive of the
        // stale run creates another pending instance. They are spaced 2, 4, 8 × the stale time instead of 1 each.
        const int staleSeconds = 2;
        var database = await stack.CreateMigratedDatabaseAsync();
        var settings = With(FastRecovery, ("Recovery:StaleAfterSeconds", $"{staleSeconds}"), ("Durable:HubName", $"t{Guid.NewGuid():N}"[..20]));
        Guid runId;
        await using (var stalled = await QlawApplication.StartAsync(stack, settings, database))
        {
            var runs = new RunsClient(stalled.CreateClient());
            await runs.CreateWorkflowAsync(Samples.Workflow());
            await runs.WaitForAsync(await runs.StartAsync("code-review"), "completed");
            await stalled.Services.GetServices<IHostedService>().Single(s => s.GetType().Name == "DurableTaskWorkerService").StopAsync(CancellationToken.None);
            runId = Guid.Parse(await runs.StartAsync("code-review"));

            List<DateTimeOffset> redrives = [];
            await Poll.UntilAsync(
                async () =>
                {
                    await using var db = stalled.CreateDbContext();
                    redrives = await db.AuditLogs.Where(a => a.RunId == runId && a.Type == "run.recovered").OrderBy(a => a.Id).Select(a => a.CreatedAt).ToListAsync();
                    return redrives.Count >= 3;
                },
                TimeSpan.FromSeconds(90), TimeSpan.FromMilliseconds(250), "the run is re-driven three times");

            Assert.True(redrives[1] - redrives[0] >= TimeSpan.FromSeconds(2 * staleSeconds), $"second re-drive after {redrives[1] - redrives[0]}");
            Assert.True(redrives[2] - redrives[1] >= TimeSpan.FromSeconds(4 * staleSeconds), $"third re-drive after {redrives[2] - redrives[1]}");
        }

        // A server whose worker takes the hub's work runs the latest instance to the run's end, each step once.
        await using var healer = await QlawApplication.StartAsync(stack, settings, database);
        var status = await new RunsClient(healer.CreateClient()).WaitForAsync(runId.ToString(), "completed", timeoutSeconds: 90);
        AssertOneCompletedStepPerIndex(status);
        Assert.Equal(5, status["steps"]!.AsArray().Count(s => s!["status"]!.GetValue<string>() == "completed"));
    }

    [Fact]
    public async Task Runs_in_flight_when_their_task_hub_is_lost_are_listed_as_stale_and_re_driven_from_postgres()
    {
        var database = await stack.CreateMigratedDatabaseAsync();
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
            // Each run turns stale five seconds after its last write; the list only grows until all four are on it.
            JsonArray stale = [];
            await Poll.UntilAsync(
                async () => (stale = JsonNode.Parse(await http.GetStringAsync("/v1/runs?stale=true&limit=100"))!["data"]!.AsArray()).Count >= runIds.Count,
                TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(250), "Fewer than four runs were listed as stale within 60 s.");
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

    // One completed attempt per step index, in order, from the planner to the judge's verdict.
    internal static void AssertOneCompletedStepPerIndex(JsonNode status)
    {
        var completed = status["steps"]!.AsArray().Where(s => s!["status"]!.GetValue<string>() == "completed").ToList();
        Assert.Equal(Enumerable.Range(0, completed.Count), completed.Select(s => s!["index"]!.GetValue<int>()).Order());
        Assert.Equal("planner", completed.MinBy(s => s!["index"]!.GetValue<int>())!["agent"]!.GetValue<string>());
        Assert.Equal("judge", completed.MaxBy(s => s!["index"]!.GetValue<int>())!["agent"]!.GetValue<string>());
    }

    internal static Dictionary<string, string?> With(IDictionary<string, string?> settings, params (string Key, string Value)[] extra)
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
