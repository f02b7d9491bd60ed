using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Qlaw.Core.Orchestration;
using Qlaw.FakeModel;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// Bounds an anonymous caller cannot get around: tokens of every attempt count, a dead letter holds its place among the
/// active runs until it is abandoned, stored workflows and every response body have a ceiling.
/// </summary>
[Collection(QlawStackCollections.Api)]
public sealed class BoundsTests(QlawStackFixture stack)
{
    [Fact]
    public async Task A_failed_attempts_tokens_count_and_the_run_over_its_budget_makes_no_more_calls()
    {
        await using var model = await FakeOpenAIServer.StartAsync();
        await using var app = await QlawApplication.StartAsync(stack, OnModel(model));
        var runs = new RunsClient(app.CreateClient());

        // The planner's instructions and the task alone are over 20 tokens (estimated: the provider reports none).
        var workflow = Samples.OnTheModel("code-review", "failed-and-counted");
        workflow["limits"]!["max_total_tokens"] = 20;
        await runs.CreateWorkflowAsync(workflow);
        model.FailWith(503);

        var runId = await runs.StartAsync("failed-and-counted");
        var failed = await runs.WaitForAsync(runId, "failed");

        Assert.Equal("budget_exceeded", failed["last_error_code"]!.GetValue<string>());
        Assert.True(failed["tokens_used"]!.GetValue<long>() > 20, failed.ToJsonString());
        Assert.Single(model.Requests);
        Assert.Equal(["planner:failed:1"], RunsClient.Steps(failed));
        Assert.NotNull(failed["completed_at"]);
    }

    [Fact]
    public async Task Calls_carry_the_servers_output_token_cap_and_an_endpoint_allows_only_its_default_model_unless_told()
    {
        await using var model = await FakeOpenAIServer.StartAsync();
        await using var app = await QlawApplication.StartAsync(stack, OnModel(model, ("Limits:DefaultMaxOutputTokens", "321")));
        var runs = new RunsClient(app.CreateClient());
        var pricey = Samples.OnTheModel("code-review", "pricey");
        pricey["model"]!["model"] = "gpt-huge";

        var refused = await runs.Http.PostAsync("/v1/workflows", RunsClient.Json(pricey));

        Assert.Equal(["model.model"], ProblemAssert.Fields(await ProblemAssert.IsProblem(refused, HttpStatusCode.BadRequest)));
        await runs.CreateWorkflowAsync(Samples.Chain("capped"));
        model.UsePace(new FakeModelPace { FirstTokenMs = 5, Tokens = 2, TokenMs = 5 });
        await runs.WaitForAsync(await runs.StartAsync("capped"), "completed");
        var body = model.Requests.First().Body;
        Assert.Equal(321, (body["max_completion_tokens"] ?? body["max_tokens"])!.GetValue<int>());

        await using var open = await QlawApplication.StartAsync(stack, OnModel(model, ("Models:OpenAI:AllowAnyModel", "true")));
        Assert.Equal(HttpStatusCode.Created, (await open.CreateClient().PostAsync("/v1/workflows", RunsClient.Json(pricey))).StatusCode);
    }

    [Fact]
    public async Task A_dead_letter_counts_as_active_until_it_is_abandoned_and_its_orchestration_ended()
    {
        await using var app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["Limits:MaxActiveRunsPerClient"] = "1",
            ["Recovery:AbandonDeadLettersAfterSeconds"] = "3",
            ["Recovery:ReconcileIntervalSeconds"] = "1",
        });
        var runs = new RunsClient(app.CreateClient());
        var broken = Samples.Workflow(newName: "broken");
        broken["agents"]![0]!["script"] = new JsonArray(new JsonObject { ["say"] = "trying", ["call"] = "complete", ["fail_permanent"] = true });
        await runs.CreateWorkflowAsync(broken);

        var runId = await runs.StartAsync("broken");
        var deadLettered = await runs.WaitForAsync(runId, "failed");
        Assert.Null(deadLettered["completed_at"]);
        var refused = await runs.StartRawAsync("broken", new JsonObject { ["input"] = "again" });
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);

        await Poll.UntilAsync(
            async () => (await runs.AuditAsync(runId)).Any(e => e["type"]!.GetValue<string>() == "run.abandoned"),
            TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200), "the dead letter was never abandoned");
        var abandoned = await runs.StatusAsync(runId);
        Assert.Equal("failed", abandoned["status"]!.GetValue<string>());
        Assert.NotNull(abandoned["completed_at"]);
        Assert.Equal(HttpStatusCode.Conflict, (await runs.PostAsync(runId, "continue")).StatusCode);
        var scheduler = app.Services.GetRequiredService<IRunScheduler>();
        Assert.Equal(InstanceState.Terminated, await HubState.EndedAsync(scheduler, abandoned["entity_id"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.Accepted, (await runs.StartRawAsync("broken", new JsonObject { ["input"] = "again" })).StatusCode);
    }

    [Fact]
    public async Task Stored_workflows_are_capped_and_a_deleted_one_keeps_its_runs_readable()
    {
        await using var app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?> { ["Limits:MaxWorkflows"] = "5" });
        var runs = new RunsClient(app.CreateClient());
        var listed = JsonNode.Parse(await runs.Http.GetStringAsync("/v1/workflows?limit=100"))!["data"]!.AsArray().Count;
        for (var i = listed; i < 5; i++)
        {
            await runs.CreateWorkflowAsync(Samples.Workflow(newName: $"kept-{i}"));
        }

        var full = await runs.Http.PostAsync("/v1/workflows", RunsClient.Json(Samples.Workflow(newName: "one-too-many")));
        Assert.Contains("Limits:MaxWorkflows", (await ProblemAssert.IsProblem(full, HttpStatusCode.Conflict)).GetProperty("detail").GetString(), StringComparison.Ordinal);

        // A workflow with a run going is not deleted; once the run ended it is, and the run is still there to read.
        var slow = Samples.Workflow(newName: "going");
        slow["agents"]![0]!["script"] = new JsonArray(new JsonObject { ["say"] = "wait for me", ["call"] = "request_input", ["prompt"] = "ok?" });
        await runs.Http.DeleteAsync("/v1/workflows/kept-4");
        await runs.CreateWorkflowAsync(slow);
        var runId = await runs.StartAsync("going");
        await runs.WaitForAsync(runId, "awaiting_input");
        await ProblemAssert.IsProblem(await runs.Http.DeleteAsync("/v1/workflows/going"), HttpStatusCode.Conflict);
        Assert.Equal(HttpStatusCode.Accepted, (await runs.PostAsync(runId, "cancel")).StatusCode);
        await runs.WaitForAsync(runId, "cancelled");

        Assert.Equal(HttpStatusCode.NoContent, (await runs.Http.DeleteAsync("/v1/workflows/going")).StatusCode);
        await ProblemAssert.IsProblem(await runs.Http.GetAsync("/v1/workflows/going"), HttpStatusCode.NotFound);
        Assert.Equal("cancelled", (await runs.StatusAsync(runId))["status"]!.GetValue<string>());
        Assert.NotEmpty(await runs.AuditAsync(runId));
        await runs.CreateWorkflowAsync(Samples.Workflow(newName: "going"));
        await ProblemAssert.IsProblem(await runs.Http.DeleteAsync("/v1/workflows/never-was"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Status_cuts_step_outputs_the_steps_pages_give_them_whole_and_list_pages_stop_at_a_mebibyte()
    {
        await using var app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?> { ["Limits:StatusOutputChars"] = "10" });
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Workflow(newName: "statused"));
        var completed = await runs.WaitForAsync(await runs.StartAsync("statused"), "completed");
        var runId = completed["id"]!.GetValue<string>();

        Assert.All(completed["steps"]!.AsArray(), s => Assert.True(s!["output"]!.GetValue<string>().Length <= 10));
        Assert.All(completed["steps"]!.AsArray(), s => Assert.True(s!["output_truncated"]!.GetValue<bool>()));
        var whole = new List<JsonNode>();
        string? after = null;
        do
        {
            var page = JsonNode.Parse(await runs.Http.GetStringAsync($"/v1/runs/{runId}/steps?limit=2{(after is null ? "" : $"&after={after}")}"))!;
            whole.AddRange(page["data"]!.AsArray().Select(s => s!));
            after = page["has_more"]!.GetValue<bool>() ? page["last_id"]!.GetValue<string>() : null;
        }
        while (after is not null);
        Assert.Equal(completed["steps"]!.AsArray().Count, whole.Count);
        Assert.All(whole, s => Assert.True(s["output"]!.GetValue<string>().Length > 10 && s["output_truncated"] is null));
        Assert.Equal(["after"], ProblemAssert.Fields(await ProblemAssert.IsProblem(await runs.Http.GetAsync($"/v1/runs/{runId}/steps?after=x"), HttpStatusCode.BadRequest)));

        // Four workflows of about 300 KiB each: a page of up to 100 holds three, and says there is more.
        for (var i = 0; i < 4; i++)
        {
            var big = Samples.Workflow(newName: $"big-{i}");
            foreach (var agent in big["agents"]!.AsArray())
            {
                agent!["instructions"] = new string('i', 19_000);
            }

            for (var extra = 0; extra < 12; extra++)
            {
                big["agents"]!.AsArray().Add(new JsonObject { ["name"] = $"extra_{extra}", ["role"] = "reviewer", ["instructions"] = new string('e', 19_000) });
            }

            await runs.CreateWorkflowAsync(big);
        }

        var listed = JsonNode.Parse(await runs.Http.GetStringAsync("/v1/workflows?limit=100"))!;
        Assert.True(listed["has_more"]!.GetValue<bool>());
        Assert.True(listed.ToJsonString().Length <= 2 * 1024 * 1024, $"{listed.ToJsonString().Length} bytes");
    }

    private static Dictionary<string, string?> OnModel(FakeOpenAIServer model, params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Models:OpenAI:ApiKey"] = "sk-test",
            ["Models:OpenAI:BaseUrl"] = model.BaseUrl.ToString(),
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }
}
