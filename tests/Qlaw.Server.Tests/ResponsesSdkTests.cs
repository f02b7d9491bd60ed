using System.ClientModel;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using OpenAI.Responses;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// Unmodified OpenAI clients pointed at Qlaw (tests/sdk/openai-node.mjs with the official Node SDK): the SDK's stream
/// accumulator, create, background runs polled with retrieve, their streams replayed and resumed, cancel, delete; the
/// official .NET SDK's streaming updates and calls; an Agent Framework agent on the .NET SDK's Responses client that
/// is a whole workflow.
/// </summary>
[Collection(QlawStackCollections.Streams)]
public sealed class ResponsesSdkTests(QlawStackFixture stack) : ResponsesServerTests(stack)
{
    [Fact]
    public async Task The_official_node_sdk_streams_creates_polls_resumes_cancels_and_deletes()
    {
        var (exitCode, output) = await NodeScript.RunAsync(Path.Combine("sdk", "openai-node.mjs"), Path.Combine("openai", "package.json"), Runs.Http.BaseAddress!, TimeSpan.FromMinutes(2));

        Assert.True(exitCode == 0, output);
        var line = output.Split('\n').Single(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        var result = JsonNode.Parse(line["RESULT ".Length..])!;

        // stream().finalResponse(): the accumulator's snapshot is the run, its text the deltas' text.
        var stream = result["stream"]!;
        Assert.Equal("completed", stream["status"]!.GetValue<string>());
        Assert.Equal(["planner", "coder", "reviewer", "coder", "judge"], stream["agents"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Equal(stream["accumulated"]!.GetValue<string>(), stream["output_text"]!.GetValue<string>());
        Assert.EndsWith("Verdict: approved.", stream["output_text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(["response.created", "response.in_progress"], stream["first"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Equal("response.completed", stream["last"]!.GetValue<string>());

        var create = result["create"]!;
        Assert.Equal("completed", create["status"]!.GetValue<string>());
        Assert.Equal(5, create["items"]!.GetValue<int>());
        Assert.Contains("sort a list", create["output_text"]!.GetValue<string>(), StringComparison.Ordinal);

        // Background: answered before the run ended, then polled to its end.
        var background = result["background"]!;
        Assert.True(background["started"]!.GetValue<string>() is "queued" or "in_progress", background.ToJsonString());
        Assert.Equal("completed", background["ended"]!.GetValue<string>());
        Assert.True(background["same"]!.GetValue<bool>());

        // The replay numbers every event from 0; the resumed stream is exactly the rest; the helper resumes too.
        var resume = result["resume"]!;
        var replayed = resume["replayed"]!.AsArray().Select(n => n!.GetValue<int>()).ToList();
        var cut = resume["cut"]!.GetValue<int>();
        Assert.Equal(Enumerable.Range(0, replayed.Count), replayed);
        Assert.Equal(replayed.Where(n => n > cut), resume["resumed"]!.AsArray().Select(n => n!.GetValue<int>()));
        Assert.Equal(background["output_text"]!.GetValue<string>(), resume["replay_text"]!.GetValue<string>());
        Assert.Equal("completed", resume["helper_status"]!.GetValue<string>());
        Assert.Equal(background["output_text"]!.GetValue<string>(), resume["helper_text"]!.GetValue<string>());

        var cancel = result["cancel"]!;
        Assert.Equal("awaiting_input", cancel["asked"]!.GetValue<string>());
        Assert.Equal("cancelled", cancel["status"]!.GetValue<string>());
        Assert.Equal("cancelled", cancel["reason"]!.GetValue<string>());

        Assert.Equal(404, result["delete"]!["after"]!.GetValue<int>());
        Assert.Equal(400, result["store"]!["status"]!.GetValue<int>());
        Assert.Equal("store", result["store"]!["param"]!.GetValue<string>());
        Assert.Contains("Qlaw keeps every run", result["store"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("temperature", result["ignored"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_official_dotnet_sdk_streams_retrieves_resumes_and_cancels()
    {
        var client = DotnetClient();

        // Streaming updates, typed by the SDK: the text deltas and the completed response agree.
        var text = new StringBuilder();
        ResponseResult? completed = null;
        var kinds = new List<string>();
        await foreach (var update in client.CreateResponseStreamingAsync("code-review", "add two numbers"))
        {
            kinds.Add(update.GetType().Name);
            _ = update switch
            {
                StreamingResponseOutputTextDeltaUpdate delta => text.Append(delta.Delta),
                StreamingResponseCompletedUpdate end => (completed = end.Response) is null ? text : text,
                _ => text,
            };
        }

        Assert.NotNull(completed);
        Assert.Equal(ResponseStatus.Completed, completed.Status);
        Assert.Equal(text.ToString(), completed.GetOutputText());
        Assert.EndsWith("Verdict: approved.", completed.GetOutputText(), StringComparison.Ordinal);
        Assert.Equal(5, completed.OutputItems.OfType<MessageResponseItem>().Count());
        Assert.Equal(nameof(StreamingResponseCreatedUpdate), kinds[0]);

        // Retrieved whole, and its stream resumed after the tenth event.
        var retrieved = (await client.GetResponseAsync(completed.Id)).Value;
        Assert.Equal(completed.GetOutputText(), retrieved.GetOutputText());
        var resumed = new List<int>();
        await foreach (var update in client.GetResponseStreamingAsync(new GetResponseOptions(completed.Id) { StartingAfter = 9, StreamingEnabled = true }))
        {
            resumed.Add(update.SequenceNumber);
        }

        Assert.Equal(Enumerable.Range(10, kinds.Count - 10), resumed);

        // A background run that waits for an answer, cancelled.
        var options = new CreateResponseOptions("hil", [ResponseItem.CreateUserMessageItem("my order is late")]) { BackgroundModeEnabled = true };
        var background = (await client.CreateResponseAsync(options)).Value;
        // Answered at once, before the run is done: queued, running, or (the scripted model is quick) already asking.
        Assert.True(background.Status is ResponseStatus.Queued or ResponseStatus.InProgress or ResponseStatus.Incomplete, background.Status.ToString());
        await Runs.WaitForAsync(RunId(background.Id), "awaiting_input");
        var cancelled = (await client.CancelResponseAsync(background.Id)).Value;
        Assert.Equal(ResponseStatus.Cancelled, cancelled.Status);
        Assert.True((await client.DeleteResponseAsync(background.Id)).Value.Deleted);
        var gone = await Assert.ThrowsAsync<ClientResultException>(() => client.GetResponseAsync(background.Id));
        Assert.Equal(404, gone.Status);
    }

    [Fact]
    public async Task An_agent_framework_agent_on_the_responses_client_is_a_whole_workflow()
    {
        // One AF app calling another's durable workflow as a single agent: the workflow's name is the model.
        AIAgent agent = new ChatClientAgent(DotnetClient().AsIChatClient("code-review"), instructions: "Review code.", name: "reviewer-team");

        var streamed = new StringBuilder();
        string? responseId = null;
        await foreach (var update in agent.RunStreamingAsync("add two numbers"))
        {
            streamed.Append(update.Text);
            responseId ??= update.ResponseId;
        }

        Assert.NotNull(responseId);
        var status = await Runs.StatusAsync(RunId(responseId));
        Assert.Equal("completed", status["status"]!.GetValue<string>());
        Assert.Equal(
            string.Concat(status["steps"]!.AsArray().Select((s, i) => $"{(i == 0 ? "" : "\n\n")}**{s!["agent"]!.GetValue<string>()}**\n{s["output"]!.GetValue<string>()}")),
            streamed.ToString());

        var answer = await agent.RunAsync("sort a list");
        Assert.Contains("sort a list", answer.Text, StringComparison.Ordinal);
        Assert.EndsWith("Verdict: approved.", answer.Text, StringComparison.Ordinal);
    }

    private ResponsesClient DotnetClient() =>
        new(new ApiKeyCredential("unused"), new ResponsesClientOptions { Endpoint = new Uri(Runs.Http.BaseAddress!, "v1") });

    private static string RunId(string responseId) => Guid.ParseExact(responseId["resp_".Length..], "N").ToString();
}
