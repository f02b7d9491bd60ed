using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Qlaw.FakeModel;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>Agents on Microsoft Agent Framework: streamed deltas and traces, the scripted model, the OpenAI provider.</summary>
[Collection(QlawStackCollections.Streams)]
public sealed class AgentProvidersTests(QlawStackFixture stack) : FakeModelServerTests(stack, new()
{
    ["Models:OpenAI:ApiKey"] = ApiKey,
    ["Models:OpenAI:AllowedModels:0"] = "fake-planner",
    ["Models:Scripted:TokenDelayMs"] = "2",
    ["Streaming:DeltaWindowMs"] = "0",
})
{
    private const string ApiKey = "sk-test-secret-key";

    [Fact]
    public async Task Each_turn_streams_its_text_as_deltas_and_traces_every_turn_handoff_and_the_output()
    {
        await Runs.CreateWorkflowAsync(Samples.Workflow());
        var runId = Guid.Parse(await Runs.StartAsync("code-review"));
        var status = await Runs.WaitForAsync(runId.ToString(), "completed");

        await using var db = App.CreateDbContext();
        var events = await db.RunEvents.Where(e => e.RunId == runId).OrderBy(e => e.Id).ToListAsync();
        var payloads = events.Select(e => (e.Type, Data: JsonNode.Parse(e.Data)!)).ToList();
        Assert.All(payloads, p => Assert.Equal(p.Type, p.Data["type"]!.GetValue<string>()));
        Assert.All(payloads.Where(p => p.Type != "response.output_text.delta"), p =>
            Assert.True(p.Data["delta"] is null && p.Data["text"] is null && p.Data["content"] is null, p.Data.ToJsonString()));

        var deltas = payloads.Where(p => p.Type == "response.output_text.delta").ToList();
        foreach (var step in status["steps"]!.AsArray())
        {
            var index = step!["index"]!.GetValue<int>();
            var streamed = deltas.Where(d => d.Data["output_index"]!.GetValue<int>() == index).ToList();
            Assert.True(streamed.Count > 1, $"step {index} was not streamed in several deltas");
            Assert.Equal(step["output"]!.GetValue<string>(), string.Concat(streamed.Select(d => d.Data["delta"]!.GetValue<string>())));
        }

        var traces = payloads.Where(p => p.Type == "response.trace.complete").Select(p => p.Data["data"]!).ToList();
        Assert.All(traces, t => Assert.Equal("workflow_info", t["trace_type"]!.GetValue<string>()));
        Assert.Equal(5, traces.Count(t => t["event_type"]!.GetValue<string>() == "ExecutorInvokedEvent"));
        Assert.Equal(5, traces.Count(t => t["event_type"]!.GetValue<string>() == "ExecutorCompletedEvent"));
        Assert.Equal(
            ["planner>coder:0", "coder>reviewer:1", "reviewer>coder:0", "coder>judge:0"],
            traces.Where(t => t["event_type"]!.GetValue<string>() == "HandoffEvent")
                .Select(t => $"{t["data"]!["from"]}>{t["data"]!["to"]}:{t["data"]!["stack_depth"]}"));
        var output = traces[^1];
        Assert.Equal("WorkflowOutputEvent", output["event_type"]!.GetValue<string>());
        Assert.Equal("Verdict: approved.", output["data"]!["output"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_request_for_input_is_traced_in_the_shape_the_qlaw_cli_displays()
    {
        var workflow = Samples.Workflow(newName: "hil");
        workflow["agents"]![0]!["script"] = new JsonArray(new JsonObject { ["say"] = "I need the order number.", ["call"] = "request_input", ["prompt"] = "Please provide your order number" });
        await Runs.CreateWorkflowAsync(workflow);
        var runId = Guid.Parse(await Runs.StartAsync("hil", "my order is late"));
        await Runs.WaitForAsync(runId.ToString(), "awaiting_input");

        await using var db = App.CreateDbContext();
        var rows = await db.RunEvents.Where(e => e.RunId == runId).Select(e => e.Data).ToListAsync();
        var data = JsonNode.Parse(Assert.Single(rows, r => r.Contains("RequestInfoEvent", StringComparison.Ordinal)))!;

        Assert.Equal("response.trace.complete", data["type"]!.GetValue<string>());
        Assert.Equal("RequestInfoEvent", data["data"]!["event_type"]!.GetValue<string>());
        var info = data["data"]!["data"]!["request_info"]!;
        Assert.False(string.IsNullOrEmpty(info["request_id"]!.GetValue<string>()));
        Assert.Equal("planner", info["source_executor_id"]!.GetValue<string>());
        Assert.Equal("Please provide your order number", info["data"]!["prompt"]!.GetValue<string>());
        var conversation = info["data"]!["conversation"]!.AsArray();
        Assert.Equal("user", conversation[0]!["role"]!.GetValue<string>());
        Assert.Equal("my order is late", conversation[0]!["text"]!.GetValue<string>());
        Assert.Equal("planner", conversation[^1]!["author_name"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_agent_on_an_openai_compatible_url_streams_text_and_routes_by_its_tool_call()
    {
        await Runs.CreateWorkflowAsync(WithOpenAIPlanner("openai-plan"));
        Model.ReplyWith(["Plan: ", "step one, ", "step two."], "handoff_to_coder", """{"reason":"plan ready"}""");

        var status = await Runs.WaitForAsync(await Runs.StartAsync("openai-plan", "build a parser"), "completed");

        Assert.Equal("Plan: step one, step two.", status["steps"]![0]!["output"]!.GetValue<string>());
        Assert.Equal(["planner:completed:1", "coder:completed:1", "reviewer:completed:1", "coder:completed:1", "judge:completed:1"], RunsClient.Steps(status));
        var (authorization, body) = Assert.Single(Model.Requests);
        Assert.Equal($"Bearer {ApiKey}", authorization);
        Assert.Equal("fake-planner", body["model"]!.GetValue<string>());
        Assert.True(body["stream"]!.GetValue<bool>());
        var tools = body["tools"]!.AsArray().Select(t => t!["function"]!["name"]!.GetValue<string>()).ToList();
        Assert.Contains("handoff_to_coder", tools);
        Assert.Contains("complete", tools);
        var messages = body["messages"]!.AsArray();
        Assert.Contains("Decompose the user", messages[0]!["content"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains("build a parser", messages[^1]!["content"]!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_503_that_names_no_wait_is_retried_by_the_durable_policy()
    {
        // A 429 (or a 503 with retry-after) is waited out within the attempt: ProviderLimitsTests.
        await Runs.CreateWorkflowAsync(WithOpenAIPlanner("openai-503"));
        Model.FailWith(503);
        Model.ReplyWith(["Plan."], "handoff_to_coder");

        var status = await Runs.WaitForAsync(await Runs.StartAsync("openai-503"), "completed");

        Assert.Equal(["planner:failed:1", "planner:completed:2"], RunsClient.Steps(status).Take(2));
        Assert.Contains("503", status["steps"]![0]!["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_attempt_that_fails_unexpectedly_is_recorded_failed_and_retried()
    {
        // A provider answer that is not JSON is no failure the turn expects: the attempt still ends as failed, with its
        // audit entry, before the retry policy runs the turn again.
        await Runs.CreateWorkflowAsync(WithOpenAIPlanner("openai-garbled"));
        Model.Enqueue(FakeReply.Text("Half a ") with { Garbled = true });
        Model.ReplyWith(["Plan."], "handoff_to_coder");

        var runId = await Runs.StartAsync("openai-garbled");
        var status = await Runs.WaitForAsync(runId, "completed");

        Assert.Equal(["planner:failed:1", "planner:completed:2"], RunsClient.Steps(status).Take(2));
        Assert.Equal("internal_error", status["steps"]![0]!["error_code"]!.GetValue<string>());
        var audit = await Runs.AuditAsync(runId);
        Assert.Contains(audit, e => e["type"]!.GetValue<string>() == "step.failed" && e["detail"]!["attempt"]!.GetValue<int>() == 1);
        Assert.DoesNotContain(audit, e => e["type"]!.GetValue<string>() == "step.superseded");
    }

    [Fact]
    public async Task A_401_from_the_provider_dead_letters_the_run_with_a_clear_error_that_never_shows_the_key()
    {
        await Runs.CreateWorkflowAsync(WithOpenAIPlanner("openai-401"));
        Model.FailWith(401);

        var runId = await Runs.StartAsync("openai-401");
        var status = await Runs.WaitForAsync(runId, "failed");

        Assert.Equal(["planner:failed:1"], RunsClient.Steps(status));
        Assert.Contains("rejected the request (401)", status["last_error"]!.GetValue<string>(), StringComparison.Ordinal);
        var everything = status.ToJsonString() + string.Concat((await Runs.AuditAsync(runId)).Select(e => e.ToJsonString()));
        Assert.DoesNotContain(ApiKey, everything, StringComparison.Ordinal);
    }

    private JsonObject WithOpenAIPlanner(string name)
    {
        var workflow = Samples.Workflow(newName: name);
        workflow["retry"] = new JsonObject { ["max_attempts"] = 3, ["first_interval_ms"] = 50, ["max_interval_ms"] = 200 };
        workflow["agents"]![0]!["model"] = new JsonObject
        {
            ["provider"] = "openai",
            ["model"] = "fake-planner",
            ["base_url"] = Model.BaseUrl.ToString(),
        };
        return workflow;
    }
}
