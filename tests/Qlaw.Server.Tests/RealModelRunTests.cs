using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// Runs driven by an OpenAI-compatible model (a fake one on 127.0.0.1) that does what real models do and the scripted
/// one never does: sends work back, streams slowly and gets cancelled, calls no tool or a wrong one, fails.
/// </summary>
[Collection(QlawStackCollections.Streams)]
public sealed class RealModelRunTests(QlawStackFixture stack) : FakeModelServerTests(stack, new()
{
    ["Streaming:DeltaWindowMs"] = "0",

    // No heartbeat during a test: a stream's first bytes are its headers or an event.
    ["Streaming:HeartbeatSeconds"] = "300",
})
{
    [Fact]
    public async Task A_judge_on_a_real_model_sends_work_back_to_the_coder_that_handed_it_over()
    {
        await Runs.CreateWorkflowAsync(Samples.OnTheModel("judge-sends-back", "judge-model"));
        Model.ReplyWith(["1. Parse the number."], "handoff_to_coder");
        Model.ReplyWith(["int.Parse(s)"], "handoff_to_judge");
        Model.ReplyWith(["Rejected: bad input throws."], "return_to_previous", """{"reason":"handle bad input"}""");
        Model.ReplyWith(["int.TryParse(s, out var n)"], "handoff_to_judge");
        Model.ReplyWith(["Approved."], "complete");

        var runId = await Runs.StartAsync("judge-model", "parse a number");
        var completed = await Runs.WaitForAsync(runId, "completed");

        Assert.Equal(["planner", "coder", "judge", "coder", "judge"], completed["steps"]!.AsArray().Select(s => s!["agent"]!.GetValue<string>()));
        var audit = await Runs.AuditAsync(runId);
        var returned = Assert.Single(audit, e => e["type"]!.GetValue<string>() == "return");
        Assert.Equal("judge>coder:handle bad input", $"{returned["detail"]!["from"]}>{returned["detail"]!["to"]}:{returned["detail"]!["reason"]}");
        Assert.Equal("Approved.", completed["steps"]![4]!["output"]!.GetValue<string>());

        // The coder's second turn sees the judge's verdict in its conversation.
        var coderAgain = Model.Requests.ElementAt(3).Body["messages"]!.AsArray().Select(m => m!["content"]?.ToString()).ToList();
        Assert.Contains(coderAgain, c => c is not null && c.Contains("Rejected: bad input throws.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_cancel_stops_a_slow_streaming_model_and_nothing_is_written_for_the_run_after_it()
    {
        await Runs.CreateWorkflowAsync(Samples.OnTheModel("code-review", "slow"));
        Model.ReplyWith([.. Enumerable.Range(0, 600).Select(i => $"token{i} ")], "handoff_to_coder", chunkDelayMs: 100);
        var runId = await Runs.StartAsync("slow", "write a long essay");
        await WaitForDeltaAsync(runId);
        var follower = SseClient.GetAsync(Runs.Http, $"/v1/runs/{runId}/responses", timeoutSeconds: 60);

        var cancel = await Runs.PostAsync(runId, "cancel");

        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var stream = await follower;
        Assert.True(stream.SawDone);
        Assert.Equal("cancelled", stream.Events[^1].Data!["response"]!["status"]!.GetValue<string>());
        await WaitUntilAsync(() => Model.Aborted == 1, "the model call was not cancelled");
        Assert.Equal(0, Model.Finished);

        // The attempt that was streaming wrote nothing after the cancel, and never will: its step failed as cancelled.
        var id = Guid.Parse(runId);
        await using var db = App.CreateDbContext();
        var last = await db.RunEvents.Where(e => e.RunId == id).OrderByDescending(e => e.Id).FirstAsync();
        Assert.Contains("\"cancelled\"", last.Data, StringComparison.Ordinal);
        var step = await db.Steps.SingleAsync(s => s.RunId == id);
        Assert.Equal(("failed", "cancelled"), (step.Status.ToString().ToLowerInvariant(), step.ErrorCode));
        var audit = await Runs.AuditAsync(runId);
        Assert.Equal("run.cancelled", audit[^1]["type"]!.GetValue<string>());
        Assert.DoesNotContain(audit, e => e["type"]!.GetValue<string>() == "step.completed");
    }

    [Fact]
    public async Task A_stream_opens_at_once_while_the_model_has_not_answered_yet()
    {
        await Runs.CreateWorkflowAsync(Samples.OnTheModel("code-review", "thinking"));
        Model.ReplyWith(["1. Think."], "handoff_to_coder", chunkDelayMs: 120_000);
        var runId = await Runs.StartAsync("thinking", "think it over");
        await WaitUntilAsync(() => !Model.Requests.IsEmpty, "the model was never called");
        var id = Guid.Parse(runId);
        long last;
        await using (var db = App.CreateDbContext())
        {
            last = await db.RunEvents.Where(e => e.RunId == id).MaxAsync(e => e.Id);
        }

        // The client learns that it follows the run (200, text/event-stream) before anything happens in it: the headers
        // do not wait for the run's next event, which is two minutes away.
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/runs/{runId}/responses?starting_after={last}");
        using var response = await Runs.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, Model.Finished);
        await using (var db = App.CreateDbContext())
        {
            Assert.False(await db.RunEvents.AnyAsync(e => e.RunId == id && e.Id > last));
        }

        Assert.Equal(HttpStatusCode.Accepted, (await Runs.PostAsync(runId, "cancel")).StatusCode);
        await Runs.WaitForAsync(runId, "cancelled");
    }

    [Fact]
    public async Task A_model_that_calls_no_tool_follows_the_default_edge_and_a_wrong_tool_is_traced_then_fails_where_no_edge_applies()
    {
        await Runs.CreateWorkflowAsync(Samples.OnTheModel("code-review", "wayward"));
        Model.ReplyWith(["Here is a plan, and I will not call anything."]);
        Model.ReplyWith(["// code"], "delete_repository", """{"path":"/"}""");
        Model.ReplyWith(["Looks fine."], "handoff_to_judge", "{not json");

        var runId = await Runs.StartAsync("wayward");
        var failed = await Runs.WaitForAsync(runId, "failed");

        Assert.Equal(["planner", "coder", "reviewer"], failed["steps"]!.AsArray().Select(s => s!["agent"]!.GetValue<string>()));
        Assert.Equal("invalid_tool_call", failed["last_error_code"]!.GetValue<string>());
        var transitions = (await Runs.AuditAsync(runId)).Where(e => e["type"]!.GetValue<string>() is "handoff" or "route.rejected")
            .Select(e => e["type"]!.GetValue<string>() == "handoff" ? $"{e["detail"]!["from"]}>{e["detail"]!["to"]}" : $"rejected:{e["detail"]!["agent"]}").ToList();
        Assert.Equal(["planner>coder", "rejected:coder", "coder>reviewer"], transitions);

        var stream = await SseClient.GetAsync(Runs.Http, $"/v1/runs/{runId}/responses");
        var warnings = stream.Events.Where(e => e.Data?["data"]?["event_type"]?.GetValue<string>() == "WorkflowWarningEvent").ToList();
        Assert.Contains("delete_repository", warnings[0].Data!["data"]!["data"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("response.error", stream.Events[^1].Event);
        Assert.Equal("invalid_tool_call", stream.Events[^1].Data!["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_provider_failure_reaches_clients_as_a_code_and_a_message_of_ours_without_internals()
    {
        var unreachable = $"http://127.0.0.1:{Qlaw.AppHost.LocalStack.Network.FreePort()}/v1";
        await using var app = await QlawApplication.StartAsync(Stack, new Dictionary<string, string?>
        {
            ["Models:OpenAI:ApiKey"] = "sk-test",
            ["Models:OpenAI:BaseUrl"] = unreachable,
        });
        var runs = new RunsClient(app.CreateClient());
        var workflow = Samples.OnTheModel("code-review", "unreachable");
        workflow["retry"] = new JsonObject { ["max_attempts"] = 2, ["first_interval_ms"] = 50, ["backoff_coefficient"] = 1.0, ["max_interval_ms"] = 50 };
        await runs.CreateWorkflowAsync(workflow);

        var runId = await runs.StartAsync("unreachable");
        var status = await runs.WaitForAsync(runId, "failed");

        Assert.Equal("model_unavailable", status["last_error_code"]!.GetValue<string>());
        var stream = await SseClient.GetAsync(runs.Http, $"/v1/runs/{runId}/responses");
        var shown = new[] { status.ToJsonString(), stream.CliText, string.Concat((await runs.AuditAsync(runId)).Select(e => e.ToJsonString())) };
        Assert.All(shown, text =>
        {
            Assert.DoesNotContain("127.0.0.1", text, StringComparison.Ordinal);
            Assert.DoesNotContain("refused", text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
        });
        Assert.All(status["steps"]!.AsArray(), s => Assert.Equal("model_unavailable", s!["error_code"]!.GetValue<string>()));
        Assert.Equal("model_unavailable", stream.Events[^1].Data!["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Tokens_add_up_across_turns_and_the_turn_that_passes_the_budget_fails_the_run_with_budget_exceeded()
    {
        var workflow = Samples.OnTheModel("code-review", "budgeted");
        workflow["limits"]!["max_total_tokens"] = 200;
        await Runs.CreateWorkflowAsync(workflow);
        Model.ReplyWith(["A plan."], "handoff_to_coder", usage: (60, 50));
        Model.ReplyWith(["Some code."], "consult_reviewer", usage: (70, 30));
        Model.ReplyWith(["never asked for"], "return_to_previous");

        var runId = await Runs.StartAsync("budgeted");
        var failed = await Runs.WaitForAsync(runId, "failed");

        Assert.Equal("budget_exceeded", failed["last_error_code"]!.GetValue<string>());
        Assert.Equal(210, failed["tokens_used"]!.GetValue<long>());
        Assert.Equal(["completed", "completed"], failed["steps"]!.AsArray().Select(s => s!["status"]!.GetValue<string>()));
        Assert.Equal(2, Model.Requests.Count);
        var ended = (await Runs.AuditAsync(runId))[^1];
        Assert.Equal(("run.failed", "budget_exceeded"), (ended["type"]!.GetValue<string>(), ended["detail"]!["code"]!.GetValue<string>()));
        Assert.NotNull(failed["completed_at"]);
    }

    [Fact]
    public async Task A_turn_that_streams_past_the_text_cap_is_stopped_and_fails_cleanly()
    {
        await using var app = await QlawApplication.StartAsync(Stack, new Dictionary<string, string?>
        {
            ["Models:OpenAI:ApiKey"] = "sk-test",
            ["Models:OpenAI:BaseUrl"] = Model.BaseUrl.ToString(),
            ["Limits:MaxTurnChars"] = "1000",
        });
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Samples.OnTheModel("code-review", "endless"));
        Model.ReplyWith([.. Enumerable.Repeat("0123456789", 500)], "handoff_to_coder", chunkDelayMs: 5);

        var runId = await runs.StartAsync("endless");
        var failed = await runs.WaitForAsync(runId, "failed");

        Assert.Equal("turn_too_long", failed["last_error_code"]!.GetValue<string>());
        await WaitUntilAsync(() => Model.Aborted == 1, "the model call was not stopped at the cap");
        var id = Guid.Parse(runId);
        await using var db = app.CreateDbContext();
        var streamed = await db.RunEvents.Where(e => e.RunId == id && e.Type == "response.output_text.delta").Select(e => e.Data).ToListAsync();
        Assert.InRange(streamed.Sum(d => System.Text.Json.Nodes.JsonNode.Parse(d)!["delta"]!.GetValue<string>().Length), 1, 1000);
    }

    private async Task WaitForDeltaAsync(string runId)
    {
        var id = Guid.Parse(runId);
        await WaitUntilAsync(
            async () =>
            {
                await using var db = App.CreateDbContext();
                return await db.RunEvents.AnyAsync(e => e.RunId == id && e.Type == "response.output_text.delta");
            },
            "the model never started streaming");
    }

    private static Task WaitUntilAsync(Func<bool> condition, string because) => WaitUntilAsync(() => Task.FromResult(condition()), because);

    private static Task WaitUntilAsync(Func<Task<bool>> condition, string because) =>
        Poll.UntilAsync(condition, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50), because);
}
