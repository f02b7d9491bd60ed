using System.Net.Http.Headers;
using Npgsql;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// The process's one <c>LISTEN</c> connection survives PostgreSQL dropping it (an idle socket cut by a proxy, a
/// failover, an administrator): it comes back by itself and a follower that was already streaming keeps getting events.
/// </summary>
[Collection(QlawStackCollections.Recovery)]
public sealed class ListenerReconnectTests(QlawStackFixture stack) : IAsyncLifetime
{
    private const string ListenerQuery =
        "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN qlaw_run_rows%' AND datname = current_database()";

    private QlawApplication _app = null!;
    private RunsClient _runs = null!;

    public async Task InitializeAsync()
    {
        _app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?> { ["Streaming:HeartbeatSeconds"] = "1" });
        _runs = new RunsClient(_app.CreateClient());
        await _runs.CreateWorkflowAsync(Samples.Workflow());
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task A_live_follower_gets_the_events_written_after_the_listeners_backend_is_terminated()
    {
        // Arrange: the run cannot write a single event until the test lets it (readers are not blocked), and a follower
        // is live: it has sent a heartbeat, so it is subscribed and waiting.
        await using var admin = await OpenAsync();
        await using var freeze = await admin.BeginTransactionAsync();
        await using (var lockEvents = new NpgsqlCommand("LOCK TABLE run_events IN EXCLUSIVE MODE", admin, freeze))
        {
            await lockEvents.ExecuteNonQueryAsync();
        }

        var runId = await _runs.StartAsync("code-review", "a long task");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/runs/{runId}/responses");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await _runs.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        using var follower = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        Assert.Equal(":", (await follower.ReadLineAsync(timeout.Token))?[..1]);

        // Act: PostgreSQL ends the listener's session; a new one takes its place; then the run may move.
        var listener = await ListenerPidsAsync(timeout.Token);
        Assert.Single(listener);
        await using (var terminate = new NpgsqlCommand("SELECT pg_terminate_backend($1)", admin, freeze) { Parameters = { new() { Value = listener[0] } } })
        {
            Assert.True((bool)(await terminate.ExecuteScalarAsync(timeout.Token))!);
        }

        var replacement = await ListenerPidsAsync(timeout.Token, except: listener[0]);
        await freeze.CommitAsync(timeout.Token);
        var ids = await ReadIdsToTheEndAsync(follower, timeout.Token);

        // Assert: a new listening session, and every event of the run — all written after it — reached the follower once.
        Assert.DoesNotContain(listener[0], replacement);
        Assert.NotEmpty(ids);
        Assert.Equal(await LogIdsAsync(runId), ids);
        Assert.Equal("completed", (await _runs.StatusAsync(runId))["status"]!.GetValue<string>());
    }

    private async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(_app.PostgresConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        return connection;
    }

    // The pids of the sessions listening for run events (other than `except`), once there is one.
    private async Task<List<int>> ListenerPidsAsync(CancellationToken cancellationToken, int except = 0)
    {
        await using var connection = await OpenAsync();
        while (true)
        {
            var pids = new List<int>();
            await using (var command = new NpgsqlCommand(ListenerQuery, connection))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    pids.Add(reader.GetInt32(0));
                }
            }

            if (pids.Any(pid => pid != except))
            {
                return [.. pids.Where(pid => pid != except)];
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    private static async Task<List<long>> ReadIdsToTheEndAsync(StreamReader follower, CancellationToken cancellationToken)
    {
        var ids = new List<long>();
        while (await follower.ReadLineAsync(cancellationToken) is { } line && line != "data: [DONE]")
        {
            if (line.StartsWith("id:", StringComparison.Ordinal))
            {
                ids.Add(long.Parse(line[3..].Trim()));
            }
        }

        return ids;
    }

    private async Task<List<long>> LogIdsAsync(string runId)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id FROM run_events WHERE run_id = $1 ORDER BY id", connection)
        {
            Parameters = { new() { Value = Guid.Parse(runId) } },
        };
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new List<long>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetInt64(0));
        }

        return ids;
    }
}
