using Npgsql;
using Qlaw.Core.Streaming;

namespace Qlaw.Core.Journal;

/// <summary>
/// Watches a running attempt for as long as its model call runs: refreshes the step's <c>heartbeat_at</c> every
/// interval (so the reconciler can tell a slow turn from a dead one), and cancels <see cref="Stopped"/> as soon as the
/// step no longer runs — at once on a stop notification (a cancel, a superseding attempt, from any process), else at
/// the next heartbeat, which finds the step no longer running.
/// </summary>
public sealed class AttemptWatch : IAsyncDisposable
{
    private readonly CancellationTokenSource _stopped = new();
    private readonly CancellationTokenSource _done = new();
    private readonly NpgsqlDataSource _dataSource;
    private readonly long _stepId;
    private readonly IDisposable _notifications;
    private readonly Task _heartbeat;

    private AttemptWatch(RunEventHub hub, NpgsqlDataSource dataSource, Guid runId, long stepId, TimeSpan interval)
    {
        (_dataSource, _stepId) = (dataSource, stepId);
        _notifications = hub.OnStop(runId, () => _ = CheckAsync());
        _heartbeat = BeatAsync(interval);
    }

    /// <summary>Cancelled once the attempt no longer runs.</summary>
    public CancellationToken Stopped => _stopped.Token;

    public static async Task<AttemptWatch> StartAsync(RunEventHub hub, NpgsqlDataSource dataSource, Guid runId, long stepId, TimeSpan interval)
    {
        var watch = new AttemptWatch(hub, dataSource, runId, stepId, interval);

        // A stop committed before the watch listened would not be heard: look once now.
        await watch.CheckAsync();
        return watch;
    }

    public async ValueTask DisposeAsync()
    {
        _notifications.Dispose();
        await _done.CancelAsync();
        await _heartbeat;
        _done.Dispose();
        _stopped.Dispose();
    }

    private async Task CheckAsync()
    {
        try
        {
            await using var command = _dataSource.CreateCommand("SELECT status = 'running' FROM steps WHERE id = $1");
            command.Parameters.AddWithValue(_stepId);
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
