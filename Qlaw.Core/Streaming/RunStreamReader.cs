using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using Qlaw.Contracts;
using Qlaw.Core.Configuration;
using Qlaw.Core.Limits;
using Qlaw.Core.RunStore;
using Qlaw.Core.Telemetry;

namespace Qlaw.Core.Streaming;

/// <summary>
/// A run's event stream: replays the log after a position, then follows it live through <see cref="RunEventHub"/>;
/// yields null as a heartbeat while idle; ends after a <c>response.completed</c> / <c>response.error</c> marker once
/// the run is no longer moving (ended, paused, or dead-lettered); yields <see cref="RunEventRow.Lagged"/> and ends
/// when the reader fell too far behind (<see cref="LimitsOptions.MaxQueuedEventsPerStream"/>).
/// </summary>
public sealed class RunStreamReader(NpgsqlDataSource dataSource, RunEventHub hub, IOptionsMonitor<StreamingOptions> options)
{
    public async IAsyncEnumerable<RunEventRow?> ReadAsync(Guid runId, long after, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var open = QlawTelemetry.TrackOpenStream();
        using var subscription = await hub.SubscribeAsync(runId, cancellationToken);
        var last = after;
        List<RunEventRow> replay;
        do
        {
            replay = await RunFeed.ReadAfterAsync(dataSource, runId, last, 500, cancellationToken);
            foreach (var row in replay)
            {
                yield return row;
                last = row.Id;
                if (IsFinal(row) || (IsMarker(row) && await HasStoppedAsync(runId, last, cancellationToken)))
                {
                    yield break;
                }
            }
        }
        while (replay.Count == 500);

        if (await HasStoppedAsync(runId, last, cancellationToken))
        {
            yield break;
        }

        // One idle timer per quiet spell, not one per event: it is re-armed for what is left of the heartbeat interval
        // since the last frame, so a heartbeat goes out after exactly that much silence.
        var heartbeat = TimeSpan.FromSeconds(options.CurrentValue.HeartbeatSeconds);
        var lastSent = Stopwatch.GetTimestamp();
        var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            idle.CancelAfter(heartbeat);
            while (true)
            {
                bool more, beat = false;
                try
                {
                    more = subscription.Rows.TryPeek(out _) || await subscription.Rows.WaitToReadAsync(idle.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    var quiet = Stopwatch.GetElapsedTime(lastSent);
                    (more, beat) = (true, quiet >= heartbeat);
                    idle.Dispose();
                    idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    idle.CancelAfter(beat ? heartbeat : heartbeat - quiet);
                }

                if (beat)
                {
                    lastSent = Stopwatch.GetTimestamp();
                    yield return null;
                    continue;
                }

                if (!more)
                {
                    if (subscription.Lagged)
                    {
                        yield return RunEventRow.Lagged;
                    }

                    yield break;
                }

                while (subscription.Rows.TryRead(out var row))
                {
                    // A row at or before the position was sent already, or precedes a Last-Event-ID past the run's end:
                    // it is not sent, but the end it marks still ends the stream.
                    if (row.Id > last)
                    {
                        yield return row;
                        last = row.Id;
                        lastSent = Stopwatch.GetTimestamp();
                    }

                    if (IsFinal(row) || (IsMarker(row) && await HasStoppedAsync(runId, last, cancellationToken)))
                    {
                        yield break;
                    }
                }
            }
        }
        finally
        {
            idle.Dispose();
        }
    }

    /// <summary>Whether the run exists: the one check a stream needs before it starts.</summary>
    public async Task<bool> RunExistsAsync(Guid runId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1)");
        command.Parameters.Add(new() { Value = runId });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>The id of the run's latest event (0 when none): where a stream of what happens next starts.</summary>
    public Task<long> LastEventIdAsync(Guid runId, CancellationToken cancellationToken) => RunLog.LastEventIdAsync(dataSource, runId, cancellationToken);

    private static bool IsMarker(RunEventRow row) => row.Type is RunEvents.ResponseCompleted or RunEvents.ResponseError;

    // The marker of a run that completed or was cancelled is its last event for good (nothing resumes such a run), so
    // the stream ends without asking the database; other markers (a pause for input, a dead letter) are checked.
    private static bool IsFinal(RunEventRow row)
    {
        if (row.Type != RunEvents.ResponseCompleted)
        {
            return false;
        }

        using var document = JsonDocument.Parse(row.Data);
        return document.RootElement.TryGetProperty("response", out var response)
            && response.TryGetProperty("status", out var status)
            && QlawJson.TryParseEnum<RunStatus>(status.GetString() ?? "", out var value) && value is RunStatus.Completed or RunStatus.Cancelled;
    }

    // The stream is over when nothing follows the position and the run is not moving; a run resumed after the
    // marker (continue) keeps the stream open. One round trip: this runs at every stream's start and end.
    private async Task<bool> HasStoppedAsync(Guid runId, long last, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT status, EXISTS (SELECT 1 FROM run_events WHERE run_id = $1 AND id > $2) FROM runs WHERE id = $1");
        command.Parameters.Add(new() { Value = runId });
        command.Parameters.Add(new() { Value = last });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return true;
        }

        var status = QlawJson.ParseEnum<RunStatus>(reader.GetString(0));
        return status is not (RunStatus.Queued or RunStatus.Running) && !reader.GetBoolean(1);
    }
}
