using System.Text.Json.Nodes;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// Unmodified OpenAI clients pointed at Qlaw (tests/sdk/openai-node.mjs with the official Node SDK): the SDK's stream
/// accumulator, create, background runs polled with retrieve, their streams replayed and resumed, cancel, delete.
/// </summary>
[Collection(QlawStackCollections.Streams)]
public sealed class ResponsesSdkTests(QlawStackFixture stack) : IAsyncLifetime
{
    private QlawApplication _app = null!;
    private RunsClient _runs = null!;

    public async Task InitializeAsync()
    {
        _app = await QlawApplication.StartAsync(stack);
        _runs = new RunsClient(_app.CreateClient());
        await _runs.CreateWorkflowAsync(Samples.Workflow());
        await _runs.CreateWorkflowAsync(Samples.AsksForInput());
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task The_official_node_sdk_streams_creates_polls_resumes_cancels_and_deletes()
    {
        var (exitCode, output) = await NodeScript.RunAsync(Path.Combine("sdk", "openai-node.mjs"), Path.Combine("openai", "package.json"), _runs.Http.BaseAddress!, TimeSpan.FromMinutes(2));

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
}
