using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>Memory a caller can make the server hold is bounded: subscriber queues and agent listings.</summary>
[Collection(QlawStackCollections.Streams)]
public sealed class BoundedMemoryTests(QlawStackFixture stack) : IAsyncLifetime
{
    private QlawApplication _app = null!;
    private RunsClient _runs = null!;

    public async Task InitializeAsync()
    {
        // A queue of one event: every commit of several events at once (each turn's end does) overflows it.
        _app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["Limits:MaxQueuedEventsPerStream"] = "1",
            ["Models:Scripted:TokenDelayMs"] = "2",
            ["Streaming:DeltaWindowMs"] = "0",
        });
        _runs = new RunsClient(_app.CreateClient());
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task A_reader_too_far_behind_is_dropped_with_a_comment_and_resumes_with_Last_Event_ID_missing_nothing()
    {
        await _runs.CreateWorkflowAsync(Samples.Workflow());
        var runId = await _runs.StartAsync("code-review");

        var dropped = await SseClient.GetAsync(_runs.Http, $"/v1/runs/{runId}/responses");
        var received = new List<long>(dropped.Ids);
        var reconnects = 0;
        for (var last = dropped; !last.SawDone && reconnects < 200; reconnects++)
        {
            // Each reconnect may be dropped again while the run is moving; it always moves on from where it stopped.
            Assert.Equal("lagging, reconnect with Last-Event-ID", last.LastComment);
            // (A reader can be dropped before its first event, while it replays: then it starts over.)
            last = await SseClient.GetAsync(_runs.Http, $"/v1/runs/{runId}/responses", lastEventId: received.Count > 0 ? received[^1].ToString() : null);
            received.AddRange(last.Ids);
        }

        Assert.False(dropped.SawDone);
        Assert.Equal("lagging, reconnect with Last-Event-ID", dropped.LastComment);
        Assert.InRange(reconnects, 1, 199);
        await using var db = _app.CreateDbContext();
        var logged = await db.RunEvents.Where(e => e.RunId == Guid.Parse(runId)).OrderBy(e => e.Id).Select(e => e.Id).ToListAsync();
        Assert.Equal(logged, received);
    }

    [Fact]
    public async Task A_waiting_response_reads_past_its_own_drops_to_the_end_of_the_run()
    {
        await _runs.CreateWorkflowAsync(Samples.Workflow(newName: "waited"));

        var response = await _runs.Http.PostAsync("/v1/responses", RunsClient.Json(new JsonObject { ["model"] = "waited", ["input"] = "add two numbers" }));

        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("completed", body["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Agents_are_listed_a_page_of_workflows_at_a_time_and_the_clis_call_keeps_its_plain_array()
    {
        foreach (var name in new[] { "one", "two", "three" })
        {
            await _runs.CreateWorkflowAsync(Samples.Workflow(newName: name));
        }

        var first = JsonNode.Parse(await _runs.Http.GetStringAsync("/v1/agents?limit=2"))!;
        var second = JsonNode.Parse(await _runs.Http.GetStringAsync($"/v1/agents?limit=2&after={first["last_id"]}"))!;
        var plain = JsonNode.Parse(await _runs.Http.GetStringAsync("/v1/agents?project_endpoint=x"))!.AsArray();

        Assert.True(first["has_more"]!.GetValue<bool>());
        Assert.False(second["has_more"]!.GetValue<bool>());
        string[] Workflows(JsonNode page) => [.. page["data"]!.AsArray().Select(a => a!["id"]!.GetValue<string>().Split('.')[0]).Distinct()];
        Assert.Equal(["one", "two"], Workflows(first));
        Assert.Equal(["three"], Workflows(second));
        Assert.Equal(first["data"]!.AsArray().Count + second["data"]!.AsArray().Count, plain.Count);
    }
}
