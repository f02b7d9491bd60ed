using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Qlaw.Contracts;
using Qlaw.Core.Telemetry;
using Qlaw.Data;

namespace Qlaw.Core.Streaming;

/// <summary>
/// A run's event stream: replays the log after a position, then follows it live through <see cref="RunEventHub"/>;
/// yields null as a heartbeat while idle; ends after a <c>response.completed</c> / <c>response.error</c> marker once
/// the run is no longer moving (ended, paused, or dead-lettered).
/// </summary>
public sealed class RunStreamReader(NpgsqlDataSource dataSource, RunEventHub hub, IServiceScopeFactory scopes, IOptionsMonitor<StreamingOptions> options)
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
                if (IsMarker(row) && await HasStoppedAsync(runId, last, cancellationToken))
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

        var heartbeat = TimeSpan.FromSeconds(options.CurrentValue.HeartbeatSeconds);
        while (true)
        {
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            idle.CancelAfter(heartbeat);
            bool more;
            try
            {
                more = await subscription.Rows.WaitToReadAsync(idle.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                more = true;
            }

            if (!more)
            {
                yield break;
            }

            if (!subscription.Rows.TryPeek(out _))
            {
                yield return null;
                continue;
            }

            while (subscription.Rows.TryRead(out var row))
            {
                if (row.Id <= last)
                {
                    continue;
                }

                yield return row;
                last = row.Id;
                if (IsMarker(row) && await HasStoppedAsync(runId, last, cancellationToken))
                {
                    yield break;
                }
            }
        }
    }

    /// <summary>The id of the run's latest event (0 when none): where a stream of what happens next starts.</summary>
    public async Task<long> LastEventIdAsync(Guid runId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT coalesce(max(id), 0) FROM run_events WHERE run_id = $1");
        command.Parameters.Add(new() { Value = runId });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static bool IsMarker(RunEventRow row) => row.Type is RunEvents.ResponseCompleted or RunEvents.ResponseError;

    // The stream is over when nothing follows the position and the run is not moving; a run resumed after the
    // marker (continue) keeps the stream open.
    private async Task<bool> HasStoppedAsync(Guid runId, long last, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<QlawDbContext>();
        var status = await db.Runs.Where(r => r.Id == runId).Select(r => (RunStatus?)r.Status).FirstOrDefaultAsync(cancellationToken);
        if (status is null or RunStatus.Queued or RunStatus.Running)
        {
            return status is null;
        }

        return !await db.RunEvents.AnyAsync(e => e.RunId == runId && e.Id > last, cancellationToken);
    }
}
