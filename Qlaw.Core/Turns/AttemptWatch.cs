using Npgsql;
using Qlaw.Core.Streaming;

namespace Qlaw.Core.Turns;

/// <summary>
/// Watches a running attempt for as long as its model call runs: refreshes the step's <c>heartbeat_at</c> every
/// interval (so the reconciler can tell a slow turn from a dead one), and cancels <see cref="Stopped"/> as soon as the
/// step no longer runs — at once on a stop notification (a cancel, a superseding attempt, from any process), else at
/// the next heartbeat, which finds the step no longer running.
/// </summary>
/// <remarks>
/// The watch listens before the attempt's row is written (<see cref="Listen"/>) and is attached to the row once it is
/// committed (<see cref="Attach"/>): a stop can only be committed after the attempt's row (both take the run's lock),
/// so it is heard, and no query is needed to look for one committed in between.
/// </remarks>
public sealed class AttemptWatch : IAsyncDisposable
{
    private readonly CancellationTokenSource _stopped = new();
    private readonly CancellationTokenSource _done = new();
    private readonly NpgsqlDataSource _dataSource;
    private readonly IDisposable _notifications;
    private long _stepId;
    private int _heard;
    private Task _heartbeat = Task.CompletedTask;

    private AttemptWatch(RunEventHub hub, NpgsqlDataSource dataSource, Guid runId)
    {
        _dataSource = dataSource;
        _notifications = hub.OnStop(runId, OnStop);
    }

    /// <summary>Cancelled once the attempt no longer runs.</summary>
    public CancellationToken Stopped => _stopped.Token;

    /// <summary>Starts listening for stops of <paramref name="runId"/>, before the attempt's row is written.</summary>
    public static AttemptWatch Listen(RunEventHub hub, NpgsqlDataSource dataSource, Guid runId) => new(hub, dataSource, runId);

    /// <summary>Watches the committed attempt <paramref name="stepId"/>: heartbeats start, and a stop heard so far is looked into now.</summary>
    public void Attach(long stepId, TimeSpan interval)
    {
        Interlocked.Exchange(ref _stepId, stepId);
        _heartbeat = BeatAsync(interval);
        if (Interlocked.CompareExchange(ref _heard, 0, 0) == 1)
        {
            _ = CheckAsync(stepId);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _notifications.Dispose();
        await _done.CancelAsync();
        await _heartbeat;
        _done.Dispose();
        _stopped.Dispose();
    }

    // A stop of the run was announced: for this attempt when its row no longer runs (it may be the one that superseded
    // another). Before the watch is attached, Attach looks.
    private void OnStop()
    {
        Interlocked.Exchange(ref _heard, 1);
        if (Interlocked.Read(ref _stepId) is var stepId and not 0)
        {
            _ = CheckAsync(stepId);
        }
    }

    private async Task CheckAsync(long stepId)
    {
        try
        {
            await using var command = _dataSource.CreateCommand("SELECT status = 'running' FROM steps WHERE id = $1");
            command.Parameters.AddWithValue(stepId);
            if (await command.ExecuteScalarAsync(_done.Token) is not true)
            {
                await _stopped.CancelAsync();
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or ObjectDisposedException)
        {
            // PostgreSQL away for a moment, or the turn ended: the heartbeat looks again.
        }
    }

    private async Task BeatAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_done.Token))
            {
                try
                {
                    await using var command = _dataSource.CreateCommand("UPDATE steps SET heartbeat_at = now() WHERE id = $1 AND status = 'running'");
                    command.Parameters.AddWithValue(_stepId);
                    if (await command.ExecuteNonQueryAsync(_done.Token) == 0)
                    {
                        await _stopped.CancelAsync();
                    }
                }
                catch (NpgsqlException)
                {
                    // PostgreSQL is away for a moment; the next beat tries again.
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The turn ended.
        }
    }
}
