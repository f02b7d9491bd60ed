using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Qlaw.Contracts.Runs;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>The endpoints the QLAW CLI calls: POST /v1/responses, send_responses, GET /v1/agents.</summary>
[Collection(QlawStackCollections.Api)]
public sealed class ResponsesApiTests(QlawStackFixture stack) : ResponsesServerTests(stack)
{
    [Fact]
    public async Task The_clis_streaming_call_runs_the_workflow_named_by_model_and_streams_it_to_the_end()
    {
        var stream = await SseClient.PostAsync(Runs.Http, "/v1/responses", new JsonObject { ["model"] = "code-review", ["input"] = "add two numbers", ["stream"] = true });

        SseClient.AssertFollowsContract(stream, framed: true);
        Assert.StartsWith("**planner**\nPlan for \"add two numbers\"", stream.CliText, StringComparison.Ordinal);
        Assert.EndsWith("Verdict: approved.", stream.CliText, StringComparison.Ordinal);
        Assert.Equal("response.completed", stream.Events[^1].Event);
    }

    [Fact]
    public async Task A_responses_stream_is_framed_like_openai_and_names_each_agent_before_its_text()
    {
        var stream = await SseClient.PostAsync(Runs.Http, "/v1/responses", new JsonObject { ["model"] = "code-review", ["input"] = "add two numbers", ["stream"] = true });

        SseClient.AssertFollowsContract(stream, framed: true);
        Assert.Equal(["response.created", "response.in_progress"], stream.Events.Take(2).Select(e => e.Event));
        var created = stream.Events[0].Data!["response"]!;
        var runId = created["run_id"]!.GetValue<string>();
        Assert.Equal($"resp_{Guid.Parse(runId):N}", created["id"]!.GetValue<string>());
        Assert.Equal("code-review", created["workflow"]!.GetValue<string>());
        Assert.Equal(Enumerable.Range(0, stream.Events.Count), stream.Events.Select(e => e.Data!["sequence_number"]!.GetValue<int>()));
        var added = stream.Events.Where(e => e.Event == "response.output_item.added").Select(e => e.Data!["item"]!).ToList();
        var done = stream.Events.Where(e => e.Event == "response.output_item.done").Select(e => e.Data!["item"]!).ToList();
        Assert.Equal(["planner", "coder", "reviewer", "coder", "judge"], added.Select(i => i!["agent"]!.GetValue<string>()));
        Assert.Equal(added.Select(i => i!["step"]!.GetValue<int>()), done.Select(i => i!["step"]!.GetValue<int>()));
        Assert.All(done, i => Assert.Equal("completed", i!["status"]!.GetValue<string>()));

        // What the CLI shows is the items' text: each turn's output under its agent's name, nothing else.
        var texts = done.Select(i => i!["content"]![0]!["text"]!.GetValue<string>()).ToList();
        Assert.Equal(string.Concat(texts), stream.CliText);
        var status = await Runs.StatusAsync(runId);
        var turns = status["steps"]!.AsArray().Select((s, i) => $"{(i == 0 ? "" : "\n\n")}**{s!["agent"]!.GetValue<string>()}**\n{s["output"]!.GetValue<string>()}");
        Assert.Equal(turns, texts);
        Assert.Equal(string.Concat(texts), stream.Events[^1].Data!["response"]!["output_text"]!.GetValue<string>());
        Assert.All(stream.Events.Where(e => e.Event == "response.output_text.delta" && e.Id is not null), e => Assert.Equal(1, e.Data!["attempt"]!.GetValue<int>()));
    }

    [Fact]
    public async Task Agent_headings_can_be_turned_off_and_the_runs_own_stream_never_has_them()
    {
        await using var plain = await QlawApplication.StartAsync(Stack, new Dictionary<string, string?> { ["Responses:AgentHeadings"] = "false" });
        var runs = new RunsClient(plain.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Workflow());

        var stream = await SseClient.PostAsync(runs.Http, "/v1/responses", new JsonObject { ["model"] = "code-review", ["input"] = "add two numbers", ["stream"] = true });
        var runId = stream.Events[0].Data!["response"]!["run_id"]!.GetValue<string>();
        var log = await SseClient.GetAsync(runs.Http, $"/v1/runs/{runId}/responses");

        Assert.StartsWith("Plan for \"add two numbers\"", stream.CliText, StringComparison.Ordinal);
        Assert.Equal(stream.CliText, log.CliText);
        Assert.DoesNotContain(log.Events, e => e.Id is null || e.Data!["sequence_number"] is not null || e.Event!.StartsWith("response.output_item", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_stream_the_call_waits_and_answers_one_response_object()
    {
        var response = await Runs.Http.PostAsync("/v1/responses", RunsClient.Json(new JsonObject { ["model"] = "code-review", ["input"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "sort a list" }) }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("response", body["object"]!.GetValue<string>());
        Assert.Equal("completed", body["status"]!.GetValue<string>());
        var output = body["output"]!.AsArray();
        Assert.Equal(["planner", "coder", "reviewer", "coder", "judge"], output.Select(o => o!["agent"]!.GetValue<string>()));
        Assert.Equal(string.Concat(output.Select(o => o!["content"]![0]!["text"]!.GetValue<string>())), body["output_text"]!.GetValue<string>());
        Assert.EndsWith("Verdict: approved.", body["output_text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(body["usage"]); // the scripted model reports no tokens, and none are made up
        Assert.StartsWith("resp_", body["id"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("sort a list", body["output"]![0]!["content"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_model_is_a_short_404_the_cli_can_show()
    {
        var response = await Runs.Http.PostAsync("/v1/responses", RunsClient.Json(new JsonObject { ["model"] = "nope", ["input"] = "x", ["stream"] = true }));

        var problem = await ProblemAssert.IsProblem(response, HttpStatusCode.NotFound);
        Assert.Contains("nope", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await ProblemAssert.IsProblem(await Runs.Http.PostAsync("/v1/responses", RunsClient.Json(new JsonObject { ["model"] = "code-review", ["input"] = " " })), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_request_for_input_shows_its_prompt_and_previous_response_id_continues_the_run()
    {
        var first = await SseClient.PostAsync(Runs.Http, "/v1/responses", new JsonObject { ["model"] = "hil", ["input"] = "my order is late", ["stream"] = true });

        Assert.Contains("Let me check.\n\nPlease provide your order number", first.CliText, StringComparison.Ordinal);
        Assert.Equal("response.incomplete", first.Events[^1].Event);
        Assert.Equal("incomplete", first.Events[^1].Data!["response"]!["status"]!.GetValue<string>());
        Assert.Equal("awaiting_input", first.Events[^1].Data!["response"]!["incomplete_details"]!["reason"]!.GetValue<string>());
        var responseId = first.Events[^1].Data!["response"]!["id"]!.GetValue<string>();

        var second = await SseClient.PostAsync(Runs.Http, "/v1/responses", new JsonObject { ["model"] = "hil", ["input"] = "ORD-123", ["stream"] = true, ["previous_response_id"] = responseId });

        SseClient.AssertFollowsContract(second, framed: true);
        Assert.Equal("**planner**\nFound your order.", second.CliText);
        Assert.True(second.Ids.Min() > first.Ids.Max());
    }

    [Fact]
    public async Task A_follow_up_of_a_finished_response_starts_a_new_run_carrying_the_conversation()
    {
        var first = JsonNode.Parse(await (await Runs.Http.PostAsync("/v1/responses", RunsClient.Json(new JsonObject { ["model"] = "code-review", ["input"] = "write fizzbuzz" }))).Content.ReadAsStringAsync())!;

        var second = JsonNode.Parse(await (await Runs.Http.PostAsync("/v1/responses", RunsClient.Json(new JsonObject
        {
            ["model"] = "code-review",
            ["input"] = "now in F#",
            ["previous_response_id"] = first["id"]!.GetValue<string>(),
        }))).Content.ReadAsStringAsync())!;

        Assert.NotEqual(first["id"]!.GetValue<string>(), second["id"]!.GetValue<string>());
        var plan = second["output"]![0]!["content"]![0]!["text"]!.GetValue<string>();
        Assert.Contains("write fizzbuzz", plan, StringComparison.Ordinal);
        Assert.Contains("now in F#", plan, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Send_responses_accepts_the_cli_and_the_bridge_shapes(bool bridgeShape)
    {
        var first = await SseClient.PostAsync(Runs.Http, "/v1/responses", new JsonObject { ["model"] = "hil", ["input"] = "help", ["stream"] = true });
        var requestId = first.Events.Single(e => e.Data!["data"]?["event_type"]?.GetValue<string>() == "RequestInfoEvent")
            .Data!["data"]!["data"]!["request_info"]!["request_id"]!.GetValue<string>();
        JsonNode body = bridgeShape
            ? new JsonObject { ["responses"] = new JsonObject { [requestId] = "ORD-9" } }
            : new JsonObject { ["input"] = "ORD-9", ["stream"] = true };

        var resumed = await SseClient.PostAsync(Runs.Http, "/v1/workflows/hil/send_responses", body);

        SseClient.AssertFollowsContract(resumed, framed: true);
        Assert.Equal("**planner**\nFound your order.", resumed.CliText);
        var conflict = await Runs.Http.PostAsync("/v1/workflows/code-review/send_responses", new StringContent("""{"input":"x"}""", Encoding.UTF8, "application/json"));
        await ProblemAssert.IsProblem(conflict, HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task An_answer_whose_model_names_another_workflow_than_the_waiting_runs_is_400_naming_model()
    {
        var asked = await SseClient.PostAsync(Runs.Http, "/v1/responses", new JsonObject { ["model"] = "hil", ["input"] = "my order is late", ["stream"] = true, ["conversation"] = "c-6" });
        var responseId = asked.Events[^1].Data!["response"]!["id"]!.GetValue<string>();

        var byPrevious = await Runs.Http.PostAsync("/v1/responses", RunsClient.Json(new JsonObject { ["model"] = "code-review", ["input"] = "C#", ["previous_response_id"] = responseId }));
        var byConversation = await Runs.Http.PostAsync("/v1/responses", RunsClient.Json(new JsonObject { ["model"] = "code-review", ["input"] = "C#", ["conversation"] = "c-6" }));

        Assert.Equal(["model"], ProblemAssert.Fields(await ProblemAssert.IsProblem(byPrevious, HttpStatusCode.BadRequest)));
        Assert.Equal(["model"], ProblemAssert.Fields(await ProblemAssert.IsProblem(byConversation, HttpStatusCode.BadRequest)));
        var run = JsonNode.Parse(await Runs.Http.GetStringAsync($"/v1/responses/{responseId}"))!;
        Assert.Equal("incomplete", run["status"]!.GetValue<string>());
        Assert.Equal("hil", run["workflow"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("req_does_not_exist")]
    [InlineData("req_0197a8b2c3d4e5f60718293a4b5c6d7e_0")]
    [InlineData("wrong-step")]
    public async Task Send_responses_with_a_request_id_of_no_waiting_request_is_400_naming_responses(string requestId)
    {
        var asked = await SseClient.PostAsync(Runs.Http, "/v1/responses", new JsonObject { ["model"] = "hil", ["input"] = "help", ["stream"] = true });
        var runId = asked.Events[0].Data!["response"]!["run_id"]!.GetValue<string>();
        requestId = requestId == "wrong-step" ? $"req_{Guid.Parse(runId):N}_7" : requestId;

        var response = await Runs.Http.PostAsync("/v1/workflows/hil/send_responses", RunsClient.Json(new JsonObject { ["responses"] = new JsonObject { [requestId] = "Go" }, ["stream"] = false }));

        Assert.Equal(["responses"], ProblemAssert.Fields(await ProblemAssert.IsProblem(response, HttpStatusCode.BadRequest)));
        Assert.Equal("awaiting_input", (await Runs.StatusAsync(runId))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_short_follow_up_of_a_long_conversation_cuts_the_earliest_transcript_and_keeps_the_users_text()
    {
        var first = JsonNode.Parse(await (await Runs.Http.PostAsync("/v1/responses", RunsClient.Json(new JsonObject { ["model"] = "code-review", ["input"] = new string('a', 99_990) }))).Content.ReadAsStringAsync())!;

        var followUp = await Runs.Http.PostAsync("/v1/responses", RunsClient.Json(new JsonObject { ["model"] = "code-review", ["input"] = "ok", ["previous_response_id"] = first["id"]!.GetValue<string>() }));

        Assert.Equal(HttpStatusCode.OK, followUp.StatusCode);
        var second = JsonNode.Parse(await followUp.Content.ReadAsStringAsync())!;
        Assert.Equal("completed", second["status"]!.GetValue<string>());
        await using var db = App.CreateDbContext();
        var input = await db.Steps.Where(s => s.RunId == Guid.Parse(second["run_id"]!.GetValue<string>()) && s.Index == 0).Select(s => s.Input).SingleAsync();
        Assert.InRange(input!.Length, 99_000, StartRunRequest.MaxInputLength);
        Assert.StartsWith("[earlier conversation cut]\n", input, StringComparison.Ordinal);
        Assert.EndsWith("judge: Verdict: approved.\n\nUser: ok", input, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agents_are_listed_from_the_stored_workflows_for_either_query_parameter()
    {
        foreach (var query in new[] { "?project_endpoint=https%3A%2F%2Fexample.invalid", "?foundry_endpoint=x", "" })
        {
            var agents = JsonNode.Parse(await Runs.Http.GetStringAsync($"/v1/agents{query}"))!.AsArray();

            Assert.Contains(agents, a => a!["id"]!.GetValue<string>() == "code-review.planner" && a["model"]!.GetValue<string>() == "scripted");
            Assert.All(agents, a => Assert.False(string.IsNullOrEmpty(a!["instructions"]!.GetValue<string>())));
            Assert.Equal(8, agents.Count);
        }
    }
}
