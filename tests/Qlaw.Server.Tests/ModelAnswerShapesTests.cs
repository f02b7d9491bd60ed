using Qlaw.Core.Agents;
using Qlaw.FakeModel;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// Every shape a real model's answer takes, from a fake OpenAI-compatible model on 127.0.0.1: two routing calls at
/// once, arguments in pieces, a stream cut short, an answer cut by the token limit, a model that stalls. Each either
/// goes on as the workflow says or ends with a reason in the run's audit that a person can read.
/// </summary>
[Collection(QlawStackCollections.Streams)]
public sealed class ModelAnswerShapesTests(QlawStackFixture stack) : FakeModelServerTests(stack, new()
{
    ["Models:OpenAI:FirstTokenTimeoutSeconds"] = "2",
    ["Models:OpenAI:IdleTimeoutSeconds"] = "2",
})
{
    [Fact]
    public async Task Two_routing_calls_in_one_turn_follow_the_first_record_the_other_and_tell_the_model()
    {
        await Runs.CreateWorkflowAsync(Samples.OnTheModel("code-review", "two-calls"));
        Model.Enqueue(FakeReply.Text("A plan.").Calling("handoff_to_coder", """{"reason":"plan ready"}""").Calling("complete", """{"reason":"done already"}"""));
        Model.Enqueue(FakeReply.Text("Code.").Calling("handoff_to_judge"));
        Model.Enqueue(FakeReply.Text("Approved.").Calling("complete"));

        var runId = await Runs.StartAsync("two-calls");
        var completed = await Runs.WaitForAsync(runId, "completed");

        Assert.Equal(["planner", "coder", "judge"], completed["steps"]!.AsArray().Select(s => s!["agent"]!.GetValue<string>()));
        var ignored = Assert.Single(await Runs.AuditAsync(runId), e => e["type"]!.GetValue<string>() == "route.ignored");
        Assert.Equal("handoff_to_coder", ignored["detail"]!["followed"]!.GetValue<string>());
        Assert.Equal(["complete"], ignored["detail"]!["ignored"]!.AsArray().Select(n => n!.GetValue<string>()));

        // Every request asks for one call a turn, and the next agent's conversation says which call was not followed.
        Assert.All(Model.Requests, r => Assert.False(r.Body["parallel_tool_calls"]!.GetValue<bool>()));
        var told = Model.Requests.ElementAt(1).Body["messages"]!.AsArray().Where(m => m!["role"]!.GetValue<string>() == "tool").ToList();
        Assert.Contains(told, m => m!["content"]!.ToString() == AgentFrameworkTurnRunner.IgnoredCallResult);
    }

    [Fact]
    public async Task Arguments_that_arrive_in_pieces_are_read_whole()
    {
        await Runs.CreateWorkflowAsync(Samples.OnTheModel("code-review", "split-arguments"));
        Model.Enqueue(FakeReply.Text("A plan.").Calling("handoff_to_coder", """{"reason":"the plan is ready for code"}""") with { ArgumentChunks = 5 });
        Model.Enqueue(FakeReply.Text("Code.").Calling("handoff_to_judge"));
        Model.Enqueue(FakeReply.Text("Approved.").Calling("complete"));

        var runId = await Runs.StartAsync("split-arguments");
        await Runs.WaitForAsync(runId, "completed");

        var handoff = (await Runs.AuditAsync(runId)).First(e => e["type"]!.GetValue<string>() == "handoff");
        Assert.Equal("the plan is ready for code", handoff["detail"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_stream_cut_short_fails_its_attempt_with_a_reason_and_the_retry_goes_on()
    {
        await Runs.CreateWorkflowAsync(Samples.OnTheModel("code-review", "cut-stream"));
        Model.Enqueue(FakeReply.Text("Half ", "a plan") with { CutAfterChunks = 1 });
        Model.Enqueue(FakeReply.Text("A whole plan.").Calling("handoff_to_coder"));
        Model.Enqueue(FakeReply.Text("Code.").Calling("handoff_to_judge"));
        Model.Enqueue(FakeReply.Text("Approved.").Calling("complete"));

        var runId = await Runs.StartAsync("cut-stream");
        var completed = await Runs.WaitForAsync(runId, "completed");

        Assert.Equal(["planner:failed:1", "planner:completed:2", "coder:completed:1", "judge:completed:1"], RunsClient.Steps(completed));
        var failed = Assert.Single(await Runs.AuditAsync(runId), e => e["type"]!.GetValue<string>() == "step.failed");
        Assert.Equal("model_unavailable", failed["detail"]!["code"]!.GetValue<string>());
        Assert.True(failed["detail"]!["transient"]!.GetValue<bool>());
        Assert.True(failed["detail"]!["error"]!.GetValue<string>().Contains("cut stream", StringComparison.Ordinal), failed.ToJsonString());
        Assert.Equal(1, Model.Cut);
    }

    [Fact]
    public async Task An_answer_cut_by_the_token_limit_is_continued_once_and_said_in_the_step()
    {
        await Runs.CreateWorkflowAsync(Samples.OnTheModel("code-review", "truncated"));
        Model.Enqueue(FakeReply.Text("A long plan ", "that") with { FinishReason = "length" });
        Model.Enqueue(FakeReply.Text(" goes on.").Calling("handoff_to_coder"));
        Model.Enqueue(FakeReply.Text("Code.").Calling("handoff_to_judge"));
        Model.Enqueue(FakeReply.Text("Approved.").Calling("complete"));

        var runId = await Runs.StartAsync("truncated");
        var completed = await Runs.WaitForAsync(runId, "completed");

        Assert.Equal("A long plan that goes on.", completed["steps"]![0]!["output"]!.GetValue<string>());
        var planned = (await Runs.AuditAsync(runId)).First(e => e["type"]!.GetValue<string>() == "step.completed");
        Assert.True(planned["detail"]!["truncated"]!.GetValue<bool>());
        var asked = Model.Requests.ElementAt(1).Body["messages"]!.AsArray();
        Assert.Equal(AgentFrameworkTurnRunner.ContinueCutAnswer, asked[^1]!["content"]!.ToString());
        Assert.Equal("A long plan that", asked[^2]!["content"]!.ToString());
    }

    [Fact]
    public async Task An_answer_cut_twice_dead_letters_the_run_with_answer_truncated()
    {
        await Runs.CreateWorkflowAsync(Samples.OnTheModel("code-review", "truncated-twice"));
        Model.Enqueue(FakeReply.Text("A long plan") with { FinishReason = "length" });
        Model.Enqueue(FakeReply.Text(" and longer") with { FinishReason = "length" });

        var runId = await Runs.StartAsync("truncated-twice");
        var failed = await Runs.WaitForAsync(runId, "failed");

        Assert.Equal("answer_truncated", failed["last_error_code"]!.GetValue<string>());
        Assert.Contains("max_output_tokens", failed["last_error"]!.GetValue<string>(), StringComparison.Ordinal);
        var deadLettered = Assert.Single(await Runs.AuditAsync(runId), e => e["type"]!.GetValue<string>() == "run.dead_lettered");
        Assert.True(deadLettered["detail"]!["permanent"]!.GetValue<bool>());
        Assert.Equal(2, Model.Requests.Count);
    }

    [Fact]
    public async Task A_model_that_stalls_before_its_first_token_or_in_its_stream_fails_the_attempt_which_is_retried()
    {
        await Runs.CreateWorkflowAsync(Samples.OnTheModel("code-review", "stalls"));
        Model.Enqueue(FakeReply.Stall());
        Model.Enqueue(FakeReply.Text("A plan.").Calling("handoff_to_coder"));
        Model.Enqueue(FakeReply.Text("Some ", "code") with { FirstChunkDelayMs = 0, ChunkDelayMs = 60_000 });
        Model.Enqueue(FakeReply.Text("Code.").Calling("handoff_to_judge"));
        Model.Enqueue(FakeReply.Text("Approved.").Calling("complete"));

        var runId = await Runs.StartAsync("stalls");
        var completed = await Runs.WaitForAsync(runId, "completed");

        Assert.Equal(["planner:failed:1", "planner:completed:2", "coder:failed:1", "coder:completed:2", "judge:completed:1"], RunsClient.Steps(completed));
        var failures = (await Runs.AuditAsync(runId)).Where(e => e["type"]!.GetValue<string>() == "step.failed").Select(e => e["detail"]!).ToList();
        Assert.All(failures, f => Assert.Equal("model_timeout", f["code"]!.GetValue<string>()));
        Assert.Contains("FirstTokenTimeoutSeconds", failures[0]["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("IdleTimeoutSeconds", failures[1]["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
