using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>Run streams in the QLAW CLI's wire format: replay, resume, fan-out, other servers, dropped connections.</summary>
[Collection(QlawStackCollections.Streams)]
public sealed class StreamingTests(QlawStackFixture stack, StreamingTests.Server server) : IClassFixture<StreamingTests.Server>
{
    private readonly QlawApplication _app = server.App;
    private readonly RunsClient _runs = server.Runs;

    /// <summary>
    /// The server the tests of the class share: each follows only runs it started itself, by id, so none sees another's.
    /// </summary>
    public sealed class Server() : ClassServer(new Dictionary<string, string?> { ["Models:Scripted:TokenDelayMs"] = "3" })
    {
        public RunsClient Runs { get; private set; } = null!;

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            Runs = new RunsClient(App.CreateClient());
            await Runs.CreateWorkflowAsync(Samples.Workflow());
        }
    }

    [Fact]
    public async Task A_late_joiner_gets_the_full_replay_in_the_cli_format_and_a_clean_end()
    {
        var runId = await _runs.StartAsync("code-review");
        var status = await _runs.WaitForAsync(runId, "completed");

        var stream = await SseClient.GetAsync(_runs.Http, $"/v1/runs/{runId}/responses");

        SseClient.AssertFollowsContract(stream);
        Assert.Equal(await LogIdsAsync(runId), stream.Ids);
        Assert.Equal("response.completed", stream.Events[^1].Event);
        Assert.Equal("completed", stream.Events[^1].Data!["response"]!["status"]!.GetValue<string>());
        var outputs = status["steps"]!.AsArray().Select(s => s!["output"]!.GetValue<string>());
        Assert.Equal(string.Concat(outputs), stream.CliText);
    }

    [Fact]
    public async Task Resuming_after_any_event_yields_exactly_the_remaining_suffix()
    {
        var runId = await _runs.StartAsync("code-review");
        await _runs.WaitForAsync(runId, "completed");
        var ids = (await SseClient.GetAsync(_runs.Http, $"/v1/runs/{runId}/responses")).Ids;

        for (var i = 0; i < ids.Length; i++)
        {
            var resumed = i % 2 == 0
                ? await SseClient.GetAsync(_runs.Http, $"/v1/runs/{runId}/responses", lastEventId: ids[i].ToString())
                : await SseClient.GetAsync(_runs.Http, $"/v1/runs/{runId}/responses?starting_after={ids[i]}");
            Assert.Equal(ids[(i + 1)..], resumed.Ids);
            Assert.True(resumed.SawDone);
        }
    }

    [Fact]
    public async Task A_live_run_followed_from_past_its_last_event_ends_when_the_run_ends()
    {
        var runId = await _runs.StartAsync("code-review");
        var live = (await _runs.StatusAsync(runId))["status"]!.GetValue<string>();

        var resumed = await SseClient.GetAsync(_runs.Http, $"/v1/runs/{runId}/responses", lastEventId: "9000000000000000000", timeoutSeconds: 30);

        // The stream opened while the run still moved, so it ended with the run, not at its start.
        Assert.True(live is "queued" or "running", $"the run was {live} when its stream opened");

        Assert.True(resumed.SawDone, "the stream did not end with the run");
        Assert.Empty(resumed.Ids);
        Assert.Equal("completed", (await _runs.StatusAsync(runId))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Fifty_clients_following_a_live_run_receive_identical_sequences()
    {
        var runId = await _runs.StartAsync("code-review", "a long task");

        var streams = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => SseClient.GetAsync(_runs.Http, $"/v1/runs/{runId}/responses")));

        var expected = await LogIdsAsync(runId);
        Assert.All(streams, s =>
        {
            SseClient.AssertFollowsContract(s);
            Assert.Equal(expected, s.Ids);
        });
        Assert.True(expected.Length > 20);

        // Followed live, the server's own writes reach its streams from the writer; replayed, from the log: the same frames.
        var replay = Frames(await SseClient.GetAsync(_runs.Http, $"/v1/runs/{runId}/responses"));
        Assert.All(streams, s => Assert.Equal(replay, Frames(s)));
    }

    [Fact]
    public async Task A_stream_served_by_another_server_shows_a_run_executing_on_this_one()
    {
        // B shares the database but not the task hub: it executes nothing, it only streams.
        await using var other = new QlawApplication(_app.PostgresConnectionString, stack.Azurite.ConnectionString);
        other.UseKestrel(0);
        other.StartServer();
        var runId = await _runs.StartAsync("code-review");

        var stream = await SseClient.GetAsync(other.CreateClient(), $"/v1/runs/{runId}/responses");

        SseClient.AssertFollowsContract(stream);
        Assert.Equal(await LogIdsAsync(runId), stream.Ids);
        Assert.Equal("response.completed", stream.Events[^1].Event);
    }

    [Fact]
    public async Task A_dropped_listener_connection_is_reestablished_and_nothing_is_lost_or_repeated()
    {
        // Followed through another server, which hears of the run's events only through its listener.
        await using var other = new QlawApplication(_app.PostgresConnectionString, stack.Azurite.ConnectionString);
        other.UseKestrel(0);
        other.StartServer();
        var runId = await _runs.StartAsync("code-review", "a long task");
        var streaming = SseClient.GetAsync(other.CreateClient(), $"/v1/runs/{runId}/responses");
        await Task.Delay(300);
        await using (var admin = new NpgsqlConnection(_app.PostgresConnectionString))
        {
            await admin.OpenAsync();
            await using var kill = new NpgsqlCommand(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'LISTEN qlaw_run_rows%' AND datname = current_database()", admin);
            Assert.True((long)(await kill.ExecuteScalarAsync())! >= 1);
        }

        var stream = await streaming;

        SseClient.AssertFollowsContract(stream);
        Assert.Equal(await LogIdsAsync(runId), stream.Ids);
    }

    [Fact]
    public async Task Every_event_of_a_run_is_announced_on_its_own_with_its_id_and_the_run_still_on_the_channel_of_the_version_before()
    {
        // What a listener relies on to skip the read of rows it has forwarded: each row names itself, once. Servers of
        // the version before, still running while a release's migrations are applied, hear of the run as they did.
        var heard = new System.Collections.Concurrent.ConcurrentQueue<(string Channel, string Payload)>();

        // Unpooled: closed for good at the end, so that no pooled connection is left listening.
        await using var listener = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_app.PostgresConnectionString) { Pooling = false }.ConnectionString);
        await listener.OpenAsync();
        listener.Notification += (_, e) => heard.Enqueue((e.Channel, e.Payload));
        await using (var listen = new NpgsqlCommand("LISTEN qlaw_run_rows; LISTEN qlaw_run_events", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        using var waiting = new CancellationTokenSource();
        var waits = Task.Run(async () =>
        {
            while (!waiting.IsCancellationRequested)
            {
                await listener.WaitAsync(TimeSpan.FromMilliseconds(100));
            }
        });
        var runId = await _runs.StartAsync("code-review");
        var run = Guid.Parse(runId).ToString("N");
        await _runs.WaitForAsync(runId, "completed");
        var ids = await LogIdsAsync(runId);
        long[] Announced() =>
            [.. heard.Where(h => h.Channel == "qlaw_run_rows" && h.Payload.StartsWith(run + ":", StringComparison.Ordinal))
                .Select(h => long.Parse(h.Payload[(run.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture)).Order()];
        await Poll.UntilAsync(() => Task.FromResult(Announced().Length >= ids.Length), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50), "not every event was announced");
        await waiting.CancelAsync();
        await waits;

        Assert.Equal(ids, Announced());
        Assert.Contains(heard, h => h.Channel == "qlaw_run_events" && h.Payload == run);
    }

    [Fact]
    public async Task A_stream_on_the_server_executing_a_run_also_gets_the_events_another_server_writes_to_it()
    {
        // The executing server's own writes reach its stream from their writer; another server's writes (this cancel)
        // reach it only through its listener's read.
        await using var app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?> { ["Models:Scripted:TokenDelayMs"] = "20" });
        await using var other = new QlawApplication(app.PostgresConnectionString, stack.Azurite.ConnectionString);
        other.UseKestrel(0);
        other.StartServer();
        var runs = new RunsClient(app.CreateClient());
        var runId = await runs.StartAsync(await runs.CreateWorkflowAsync(Samples.Workflow()), "a long task");
        var streaming = SseClient.GetAsync(runs.Http, $"/v1/runs/{runId}/responses", timeoutSeconds: 30);
        await using (var db = app.CreateDbContext())
        {
            var id = Guid.Parse(runId);
            while (await db.RunEvents.CountAsync(e => e.RunId == id && e.Type == "response.output_text.delta") < 3)
            {
                await Task.Delay(20);
            }
        }

        var cancel = await new RunsClient(other.CreateClient()).PostAsync(runId, "cancel");
        Assert.True(cancel.IsSuccessStatusCode, $"{(int)cancel.StatusCode}");

        var stream = await streaming;

        SseClient.AssertFollowsContract(stream);
        Assert.Equal(await LogIdsAsync(runId, app), stream.Ids);
        Assert.Equal("cancelled", stream.Events[^1].Data!["response"]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_failing_runs_stream_ends_with_response_error()
    {
        var workflow = Samples.Workflow(newName: "doomed");
        workflow["agents"]![0]!["script"] = new JsonArray(new JsonObject { ["say"] = "trying", ["call"] = "complete", ["fail_permanent"] = true });
        await _runs.CreateWorkflowAsync(workflow);
        var runId = await _runs.StartAsync("doomed");

        var stream = await SseClient.GetAsync(_runs.Http, $"/v1/runs/{runId}/responses");

        SseClient.AssertFollowsContract(stream);
        Assert.Equal("response.error", stream.Events[^1].Event);
        Assert.Contains("[Error] The scripted model failed permanently.", stream.CliText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_run_or_a_bad_position_is_a_problem_before_any_stream_byte()
    {
        await ProblemAssert.IsProblem(await _runs.Http.GetAsync($"/v1/runs/{Guid.NewGuid()}/responses"), HttpStatusCode.NotFound);
        var runId = await _runs.StartAsync("code-review");
        var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/runs/{runId}/responses");
        request.Headers.Add("Last-Event-ID", "yesterday");
        await ProblemAssert.IsProblem(await _runs.Http.SendAsync(request), HttpStatusCode.BadRequest);
        await ProblemAssert.IsProblem(await _runs.Http.GetAsync($"/v1/runs/{runId}/responses?starting_after=-5"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task An_idle_stream_sends_heartbeats_and_still_delivers_every_event_once()
    {
        await using var app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["Streaming:HeartbeatSeconds"] = "1",
            ["Models:Scripted:TurnDelayMs"] = "1300",
        });
        var runs = new RunsClient(app.CreateClient());
        var runId = await runs.StartAsync(await runs.CreateWorkflowAsync(Samples.Workflow()));

        var stream = await SseClient.GetAsync(runs.Http, $"/v1/runs/{runId}/responses", timeoutSeconds: 120);

        SseClient.AssertFollowsContract(stream);
        Assert.True(stream.Heartbeats >= 3, $"{stream.Heartbeats} heartbeats during five quiet turns");
        Assert.Equal(await LogIdsAsync(runId, app), stream.Ids);
    }

    private static List<string> Frames(SseTranscript stream) =>
        [.. stream.Events.Select(e => $"{e.Id} {e.Event} {e.Data?.ToJsonString()}")];

    // The run's event ids in the log, in order (on the class's server unless another is given).
    private async Task<long[]> LogIdsAsync(string runId, QlawApplication? app = null)
    {
        await using var db = (app ?? _app).CreateDbContext();
        var id = Guid.Parse(runId);
        return [.. await db.RunEvents.Where(e => e.RunId == id).OrderBy(e => e.Id).Select(e => e.Id).ToListAsync()];
    }
}
