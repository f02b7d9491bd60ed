using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// Conversations through /v1/responses with the QLAW CLI's exact requests: a question answered from the CLI, explicit
/// conversations, follow-ups, retried attempts under their name, and safe retries with Idempotency-Key.
/// </summary>
[Collection(QlawStackCollections.Streams)]
public sealed class ResponsesConversationTests(QlawStackFixture stack) : ResponsesServerTests(stack)
{
    private const string CliUserAgent = "Bun/1.4.5";

    [Fact]
    public async Task The_cli_asks_the_user_answers_in_the_same_cli_and_the_run_continues_to_its_end()
    {
        var ask = await CliAsync(Runs.Http, """{"model":"hil","input":"my order is late","stream":true}""");
        var answer = await CliAsync(Runs.Http, """{"model":"hil","input":"ORD-123","stream":true}""");

        SseClient.AssertFollowsContract(answer, framed: true);
        Assert.Equal("**planner**\nLet me check.\n\nPlease provide your order number", ask.CliText);
        Assert.Equal("**planner**\nFound your order.", answer.CliText);
        var responseId = ask.Events[0].Data!["response"]!["id"]!.GetValue<string>();
        Assert.Equal(responseId, answer.Events[0].Data!["response"]!["id"]!.GetValue<string>());
        Assert.Equal("completed", answer.Events[^1].Data!["response"]!["status"]!.GetValue<string>());

        var runId = ask.Events[0].Data!["response"]!["run_id"]!.GetValue<string>();
        var trace = Assert.Single(answer.Events, e => e.Data!["data"]?["event_type"]?.GetValue<string>() == "InputAnsweredEvent").Data!["data"]!["data"]!;
        Assert.Equal(responseId, trace["response_id"]!.GetValue<string>());
        Assert.Equal("client", trace["via"]!.GetValue<string>());
        var audit = Assert.Single(await Runs.AuditAsync(runId), e => e["type"]!.GetValue<string>() == "input.answered");
        Assert.Equal(responseId, audit["detail"]!["response_id"]!.GetValue<string>());
        await using var db = App.CreateDbContext();
        Assert.Equal("ORD-123", await db.Steps.Where(s => s.Index == 1).Select(s => s.Input).SingleAsync());
        var run = await db.Runs.SingleAsync();
        Assert.True(run.StartedViaResponses);
        Assert.NotNull(run.ClientKey);
    }

    [Fact]
    public async Task Another_client_or_an_answer_window_of_zero_starts_a_new_run_instead()
    {
        await CliAsync(Runs.Http, """{"model":"hil","input":"my order is late","stream":true}""");
        var other = await CliAsync(Runs.Http, """{"model":"hil","input":"ORD-123","stream":true}""", userAgent: "curl/8.5");

        Assert.Equal("**planner**\nLet me check.\n\nPlease provide your order number", other.CliText);
        await using var closed = await QlawApplication.StartAsync(Stack, new Dictionary<string, string?> { ["Responses:AnswerWindowMinutes"] = "0" });
        var runs = new RunsClient(closed.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Workflow(newName: "hil"));
        await CliAsync(runs.Http, """{"model":"hil","input":"first","stream":true}""");
        await CliAsync(runs.Http, """{"model":"hil","input":"second","stream":true}""");
        await using var db = closed.CreateDbContext();
        Assert.Equal(2, await db.Runs.CountAsync());
    }

    [Fact]
    public async Task A_conversation_groups_runs_answering_its_question_then_following_up_with_its_history()
    {
        var ask = await CliAsync(Runs.Http, """{"model":"hil","input":"my order is late","stream":true,"conversation":"conv-1"}""");
        var answer = await CliAsync(Runs.Http, """{"model":"hil","input":"ORD-123","stream":true,"conversation":{"id":"conv-1"}}""", userAgent: "another/1.0");
        var followUp = await CliAsync(Runs.Http, """{"model":"hil","input":"and my refund?","stream":true,"conversation":"conv-1"}""");

        Assert.Equal("**planner**\nFound your order.", answer.CliText);
        Assert.Equal("conversation", answer.Events.Single(e => e.Data!["data"]?["event_type"]?.GetValue<string>() == "InputAnsweredEvent").Data!["data"]!["data"]!["via"]!.GetValue<string>());
        var first = ask.Events[0].Data!["response"]!["run_id"]!.GetValue<string>();
        var second = followUp.Events[0].Data!["response"]!["run_id"]!.GetValue<string>();
        Assert.NotEqual(first, second);
        await using var db = App.CreateDbContext();
        var input = await db.Steps.Where(s => s.RunId == Guid.Parse(second) && s.Index == 0).Select(s => s.Input).SingleAsync();
        Assert.Contains("my order is late", input, StringComparison.Ordinal);
        Assert.Contains("Found your order.", input, StringComparison.Ordinal);
        Assert.EndsWith("User: and my refund?", input, StringComparison.Ordinal);
        Assert.Equal(["conv-1", "conv-1"], await db.Runs.OrderBy(r => r.Id).Select(r => r.ConversationId).ToListAsync());
        foreach (var conversation in new[] { "42", "{}", "\"\"", "\"\\ud800\"" })
        {
            var bad = await Runs.Http.PostAsync("/v1/responses", new StringContent($$"""{"model":"hil","input":"x","conversation":{{conversation}}}""", Encoding.UTF8, "application/json"));
            Assert.Equal(["conversation"], ProblemAssert.Fields(await ProblemAssert.IsProblem(bad, HttpStatusCode.BadRequest)));
        }
    }

    [Fact]
    public async Task A_retried_attempts_text_is_headed_with_its_attempt_and_marked_in_its_deltas()
    {
        var flaky = Samples.Workflow(newName: "flaky");
        flaky["retry"] = new JsonObject { ["max_attempts"] = 3, ["first_interval_ms"] = 50, ["backoff_coefficient"] = 1.5, ["max_interval_ms"] = 200 };
        flaky["agents"]![0]!["script"] = new JsonArray(new JsonObject { ["say"] = "plan", ["call"] = "complete", ["fail_transient"] = 1 });
        await Runs.CreateWorkflowAsync(flaky);

        var stream = await CliAsync(Runs.Http, """{"model":"flaky","input":"go","stream":true}""");

        SseClient.AssertFollowsContract(stream, framed: true);
        Assert.Equal("**planner** (attempt 2)\nplan", stream.CliText);
        Assert.All(stream.Events.Where(e => e.Event == "response.output_text.delta"), e => Assert.Equal(2, e.Data!["attempt"]!.GetValue<int>()));
        var items = stream.Events.Where(e => e.Event == "response.output_item.done").Select(e => e.Data!["item"]!).ToList();
        Assert.Equal(["incomplete:1", "completed:2"], items.Select(i => $"{i["status"]}:{i["attempt"]}"));
    }

    [Fact]
    public async Task A_retried_call_with_its_idempotency_key_gets_the_same_runs_stream_and_another_body_is_422()
    {
        const string body = """{"model":"hil","input":"my order is late","stream":true}""";
        var first = await CliAsync(Runs.Http, body, idempotencyKey: "k-1");
        var again = await CliAsync(Runs.Http, body, idempotencyKey: "k-1");
        var answer = await SseClient.SendAsync(Runs.Http, Cli("""{"input":"ORD-123","stream":true}""", "/v1/workflows/hil/send_responses", idempotencyKey: "k-2"));
        var answerAgain = await SseClient.SendAsync(Runs.Http, Cli("""{"input":"ORD-123","stream":true}""", "/v1/workflows/hil/send_responses", idempotencyKey: "k-2"));
        var reused = await Runs.Http.SendAsync(Cli("""{"model":"hil","input":"something else","stream":true}""", idempotencyKey: "k-1"));
        var reusedAnswer = await Runs.Http.SendAsync(Cli("""{"input":"ORD-999"}""", "/v1/workflows/hil/send_responses", idempotencyKey: "k-2"));

        Assert.Equal(first.CliText, again.CliText);
        Assert.Equal(first.Ids, again.Ids);
        Assert.Equal("**planner**\nFound your order.", answer.CliText);
        Assert.Equal(answer.Ids, answerAgain.Ids);
        Assert.Equal(answer.CliText, answerAgain.CliText);
        Assert.Equal(["Idempotency-Key"], ProblemAssert.Fields(await ProblemAssert.IsProblem(reused, HttpStatusCode.UnprocessableEntity)));
        Assert.Equal(["Idempotency-Key"], ProblemAssert.Fields(await ProblemAssert.IsProblem(reusedAnswer, HttpStatusCode.UnprocessableEntity)));
        await using var db = App.CreateDbContext();
        Assert.Equal(1, await db.Runs.CountAsync());
        Assert.Single(await Runs.AuditAsync(first.Events[0].Data!["response"]!["run_id"]!.GetValue<string>()), e => e["type"]!.GetValue<string>() == "run.resumed");
    }

    [Fact]
    public async Task A_message_for_a_run_still_running_is_409_by_previous_response_id_as_by_conversation()
    {
        await using var slow = await QlawApplication.StartAsync(Stack, new Dictionary<string, string?> { ["Models:Scripted:TurnDelayMs"] = "30000" });
        var runs = new RunsClient(slow.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Workflow());
        var started = JsonNode.Parse(await (await runs.Http.PostAsync("/v1/responses", RunsClient.Json(new JsonObject
        {
            ["model"] = "code-review", ["input"] = "add two numbers", ["background"] = true, ["conversation"] = "busy",
        }))).Content.ReadAsStringAsync())!;
        var responseId = started["id"]!.GetValue<string>();

        var byPrevious = await runs.Http.PostAsync("/v1/responses", RunsClient.Json(new JsonObject { ["model"] = "code-review", ["input"] = "and?", ["background"] = true, ["previous_response_id"] = responseId }));
        var byConversation = await runs.Http.PostAsync("/v1/responses", RunsClient.Json(new JsonObject { ["model"] = "code-review", ["input"] = "and?", ["background"] = true, ["conversation"] = "busy" }));

        await ProblemAssert.IsProblem(byPrevious, HttpStatusCode.Conflict);
        await ProblemAssert.IsProblem(byConversation, HttpStatusCode.Conflict);
        await using var db = slow.CreateDbContext();
        Assert.Equal(1, await db.Runs.CountAsync());
        Assert.Equal(HttpStatusCode.OK, (await runs.Http.PostAsync($"/v1/responses/{responseId}/cancel", null)).StatusCode);
    }

    [Fact]
    public async Task A_retried_call_with_last_event_id_streams_only_what_came_after_that_event()
    {
        const string body = """{"model":"code-review","input":"add two numbers","stream":true}""";
        var first = await CliAsync(Runs.Http, body, idempotencyKey: "k-7");
        var tenth = first.Ids[9];
        var resume = Cli(body, idempotencyKey: "k-7");
        resume.Headers.Add("Last-Event-ID", tenth.ToString(System.Globalization.CultureInfo.InvariantCulture));

        var rest = await SseClient.SendAsync(Runs.Http, resume);

        var cut = first.Events.FindIndex(e => e.Id == tenth);
        var sequence = (List<SseEvent> events) => events.Select(e => e.Data!["sequence_number"]!.GetValue<int>()).ToList();
        Assert.Equal(sequence(first.Events)[(cut + 1)..], sequence(rest.Events));
        Assert.EndsWith(rest.CliText, first.CliText, StringComparison.Ordinal);
        Assert.True(rest.CliText.Length < first.CliText.Length);
        foreach (var path in new[] { "/v1/responses", "/v1/workflows/hil/send_responses" })
        {
            var bad = Cli("""{"model":"hil","input":"x","stream":true}""", path);
            bad.Headers.Add("Last-Event-ID", "yesterday");
            Assert.Equal(["Last-Event-ID"], ProblemAssert.Fields(await ProblemAssert.IsProblem(await Runs.Http.SendAsync(bad), HttpStatusCode.BadRequest)));
        }

        await using var db = App.CreateDbContext();
        Assert.Equal(1, await db.Runs.CountAsync());

        // Without the key the call is a new one: its stream starts at its start, whatever Last-Event-ID says.
        var again = Cli(body);
        again.Headers.Add("Last-Event-ID", tenth.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var fresh = await SseClient.SendAsync(Runs.Http, again);
        Assert.Equal("response.created", fresh.Events[0].Event);
        Assert.Equal(0, sequence(fresh.Events)[0]);
        Assert.Equal(first.CliText.Length, fresh.CliText.Length);
    }

    private static Task<SseTranscript> CliAsync(HttpClient http, string body, string userAgent = CliUserAgent, string? idempotencyKey = null) =>
        SseClient.SendAsync(http, Cli(body, userAgent: userAgent, idempotencyKey: idempotencyKey));

    private static HttpRequestMessage Cli(string body, string path = "/v1/responses", string userAgent = CliUserAgent, string? idempotencyKey = null) =>
        SseClient.CliRequest(body, path, userAgent, idempotencyKey);
}
