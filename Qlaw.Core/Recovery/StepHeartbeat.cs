using Npgsql;

namespace Qlaw.Core.Recovery;

/// <summary>
/// Refreshes a running step's <c>heartbeat_at</c> every interval until disposed, so the reconciler can tell a slow
/// turn (a long model call) from a dead one. A failed refresh is skipped; the next one tries again.
/// </summary>
public sealed class StepHeartbeat : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private StepHeartbeat(NpgsqlDataSource dataSource, long stepId, TimeSpan interval) =>
        _loop = BeatAsync(dataSource, stepId, interval, _stop.Token);

    public static StepHeartbeat Start(NpgsqlDataSource dataSource, long stepId, TimeSpan interval) => new(dataSource, stepId, interval);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }

    private static async Task BeatAsync(NpgsqlDataSource dataSource, long stepId, TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    await using var command = dataSource.CreateCommand("UPDATE steps SET heartbeat_at = now() WHERE id = $1 AND status = 'running'");
                    command.Parameters.AddWithValue(stepId);
                    await command.ExecuteNonQueryAsync(cancellationToken);
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
