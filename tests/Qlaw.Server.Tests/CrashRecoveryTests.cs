using System.Text.Json.Nodes;
using Qlaw.AppHost.LocalStack;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// A server killed with SIGKILL mid-run loses nothing, and one stopped mid-turn finishes that turn first: the next
/// server finishes the run exactly once; a background response's stream picks up after its last event received.
/// </summary>
[Collection(QlawStackCollections.Processes)]
public sealed class CrashRecoveryTests(QlawStackFixture stack)
{
    [Fact]
    public async Task A_run_survives_a_SIGKILL_of_the_server_mid_run_without_duplicating_a_step_or_a_transition()
    {
        var url = new Uri($"http://127.0.0.1:{Network.FreePort()}");
        var settings = await SettingsAsync(turnDelayMs: 400, killed: true);
        string runId;
        await using (var first = await ServerProcess.StartAsync(url, settings, echo: false))
        {
            var runs = new RunsClient(new HttpClient { BaseAddress = url });
            runId = await runs.StartAsync("code-review");
            await WaitForCompletedStepsAsync(runs, runId, 2);
            first.Kill();
        }

        // The next server needs no process of its own (nothing kills it).
        await using var second = QlawApplication.StartAt(url, settings);
        var client = new RunsClient(new HttpClient { BaseAddress = url });
        var status = await client.WaitForAsync(runId, "completed", timeoutSeconds: 120);

        var completed = status["steps"]!.AsArray().Where(s => s!["status"]!.GetValue<string>() == "completed").ToList();
        Assert.Equal([0, 1, 2, 3, 4], completed.Select(s => s!["index"]!.GetValue<int>()));
        Assert.Equal(["planner", "coder", "reviewer", "coder", "judge"], completed.Select(s => s!["agent"]!.GetValue<string>()));
        Assert.All(status["steps"]!.AsArray(), s => Assert.Contains(s!["status"]!.GetValue<string>(), SurvivingStatuses));
        var types = (await client.AuditAsync(runId)).Select(e => e["type"]!.GetValue<string>()).ToList();
        Assert.Equal(5, types.Count(t => t == "step.completed"));
        Assert.Equal(4, types.Count(t => t is "handoff" or "return"));
        Assert.Single(types, t => t == "run.started");
        Assert.Single(types, t => t == "run.completed");
        Assert.Equal(types.Count(t => t == "step.superseded"), status["steps"]!.AsArray().Count - 5);
    }

    [Fact]
    public async Task A_server_stopped_mid_turn_finishes_that_turn_and_the_next_server_carries_the_run_on_without_repeating_it()
    {
        var url = new Uri($"http://127.0.0.1:{Network.FreePort()}");
        var settings = await SettingsAsync(turnDelayMs: 1500);
        string runId;
        await using (var first = await ServerProcess.StartAsync(url, settings, echo: false))
        {
            var runs = new RunsClient(new HttpClient { BaseAddress = url });
            runId = await runs.StartAsync("code-review");
            await WaitForRunningStepAsync(runs, runId, index: 1);

            await first.StopAsync();
            Assert.Equal(0, first.ExitCode);
        }

        // The next server needs no process of its own (nothing kills it).
        await using var second = QlawApplication.StartAt(url, settings);
        var client = new RunsClient(new HttpClient { BaseAddress = url });
        var status = await client.WaitForAsync(runId, "completed", timeoutSeconds: 120);

        // Five steps, each run once: the turn the stop found running completed before the process exited.
        Assert.Equal(Enumerable.Repeat("completed", 5), status["steps"]!.AsArray().Select(s => s!["status"]!.GetValue<string>()));
        var types = (await client.AuditAsync(runId)).Select(e => e["type"]!.GetValue<string>()).ToList();
        Assert.Equal(5, types.Count(t => t == "step.completed"));
        Assert.DoesNotContain("step.superseded", types);
    }

    [Fact]
    public async Task A_background_response_survives_a_SIGKILL_between_create_and_retrieve_and_its_resumed_stream_has_every_event_once()
    {
        var url = new Uri($"http://127.0.0.1:{Network.FreePort()}");
        var settings = await SettingsAsync(turnDelayMs: 400, killed: true);
        string id;
        SseTranscript before;
        await using (var first = await ServerProcess.StartAsync(url, settings, echo: false))
        {
            var http = new HttpClient { BaseAddress = url };
            var created = await http.PostAsync("/v1/responses", RunsClient.Json(new JsonObject { ["model"] = "code-review", ["input"] = "add two numbers", ["background"] = true }));
            var response = JsonNode.Parse(await created.Content.ReadAsStringAsync())!;
            Assert.True(response["status"]!.GetValue<string>() is "queued" or "in_progress", response.ToJsonString());
            id = response["id"]!.GetValue<string>();

            // Read the response's stream up to the second turn's end, then kill the server mid-run.
            var turnsDone = 0;
            before = await SseClient.GetAsync(http, $"/v1/responses/{id}?stream=true", until: e => e.Data!["type"]!.GetValue<string>() == "response.output_item.done" && ++turnsDone == 2);
            first.Kill();
        }

        await using var second = QlawApplication.StartAt(url, settings);
        var client = new HttpClient { BaseAddress = url };
        var last = before.Events[^1].Data!["sequence_number"]!.GetValue<int>();
        var after = await SseClient.GetAsync(client, $"/v1/responses/{id}?stream=true&starting_after={last}", timeoutSeconds: 120);
        var whole = await SseClient.GetAsync(client, $"/v1/responses/{id}?stream=true");

        // The two reads are the whole stream, every event once, as a fresh read of it gives it.
        var joined = before.Events.Concat(after.Events).ToList();
        Assert.Equal(Enumerable.Range(0, joined.Count), joined.Select(e => e.Data!["sequence_number"]!.GetValue<int>()));
        Assert.Equal(whole.Events.Select(e => e.Data!.ToJsonString()), joined.Select(e => e.Data!.ToJsonString()));
        Assert.Equal("response.completed", joined[^1].Data!["type"]!.GetValue<string>());

        var retrieved = JsonNode.Parse(await client.GetStringAsync($"/v1/responses/{id}"))!;
        Assert.Equal("completed", retrieved["status"]!.GetValue<string>());
        var runs = new RunsClient(client);
        var types = (await runs.AuditAsync(retrieved["run_id"]!.GetValue<string>())).Select(e => e["type"]!.GetValue<string>()).ToList();
        Assert.Equal(5, types.Count(t => t == "step.completed"));
    }

    private static readonly string[] SurvivingStatuses = ["completed", "superseded"];

    // A server process on its own database and hub, with the sample workflows and turns paced as given; when it is to
    // be killed, the work it held becomes visible to the next server after 5 s.
    private async Task<Dictionary<string, string?>> SettingsAsync(int turnDelayMs, bool killed = false)
    {
        var settings = new Dictionary<string, string?>(QlawStackFixture.IsolatedHubSettings())
        {
            ["ConnectionStrings:Postgres"] = await stack.CreateMigratedDatabaseAsync(),
            ["ConnectionStrings:DurableStorage"] = stack.Azurite.ConnectionString,
            ["Database:MigrateOnStartup"] = "true",
            ["Database:SeedWorkflowsPath"] = Samples.WorkflowsFolder,
            ["Models:Scripted:TurnDelayMs"] = turnDelayMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (killed)
        {
            settings["Durable:ControlQueueVisibilityTimeout"] = "00:00:05";
            settings["Durable:WorkItemQueueVisibilityTimeout"] = "00:00:05";
        }

        return settings;
    }

    private static async Task WaitForRunningStepAsync(RunsClient runs, string runId, int index)
    {
        for (var i = 0; i < 300; i++)
        {
            var steps = (await runs.StatusAsync(runId))["steps"]!.AsArray();
            if (steps.Any(s => s!["index"]!.GetValue<int>() == index && s["status"]!.GetValue<string>() == "running"))
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new Xunit.Sdk.XunitException($"Run {runId} did not begin step {index}.");
    }

    private static async Task WaitForCompletedStepsAsync(RunsClient runs, string runId, int count)
    {
        for (var i = 0; i < 300; i++)
        {
            var status = await runs.StatusAsync(runId);
            if (status["steps"]!.AsArray().Count(s => s!["status"]!.GetValue<string>() == "completed") >= count)
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new Xunit.Sdk.XunitException($"Run {runId} did not complete {count} steps.");
    }
}
