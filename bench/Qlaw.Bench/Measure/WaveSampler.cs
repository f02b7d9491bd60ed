using Npgsql;

namespace Qlaw.Bench.Measure;

/// <summary>The peaks a <see cref="WaveSampler"/> saw: a server's PostgreSQL connections (all, and not idle) and its resident memory.</summary>
internal sealed record WavePeaks(int Connections, int ConnectionsInUse, long RssBytes)
{
    public double RssMiB => RssBytes / 1024.0 / 1024.0;
}

/// <summary>
/// Samples a server every 100 ms while a wave of runs goes on: its resident memory, and — given PostgreSQL and the
/// <c>application_name</c> of the server's connections — how many client backends it holds and how many of them are
/// not idle. The sampler's own connection has another name, so the bench never counts itself.
/// </summary>
internal sealed class WaveSampler : IAsyncDisposable
{
    private const string Count =
        "SELECT count(*)::int, (count(*) FILTER (WHERE state <> 'idle'))::int FROM pg_stat_activity " +
        "WHERE datname = current_database() AND backend_type = 'client backend' AND application_name = $1";

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _connections;
    private int _inUse;
    private long _rss;

    private WaveSampler(int pid, NpgsqlDataSource? database, string? applicationName) => _loop = Task.Run(() => LoopAsync(pid, database, applicationName));

    public static WaveSampler Start(int pid, NpgsqlDataSource? database = null, string? applicationName = null) => new(pid, database, applicationName);

    public async Task<WavePeaks> StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        return new WavePeaks(_connections, _inUse, _rss);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task LoopAsync(int pid, NpgsqlDataSource? database, string? applicationName)
    {
        NpgsqlConnection? connection = null;
        try
        {
            if (database is not null)
            {
                connection = await database.OpenConnectionAsync(_stop.Token);
            }

            while (!_stop.IsCancellationRequested)
            {
                _rss = Math.Max(_rss, ProcessStats.RssBytes(pid));
                if (connection is not null)
                {
                    await using var command = new NpgsqlCommand(Count, connection) { Parameters = { new() { Value = applicationName ?? "" } } };
                    await using var reader = await command.ExecuteReaderAsync(_stop.Token);
                    await reader.ReadAsync(_stop.Token);
                    (_connections, _inUse) = (Math.Max(_connections, reader.GetInt32(0)), Math.Max(_inUse, reader.GetInt32(1)));
                }

                await Task.Delay(100, _stop.Token);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // The wave ended.
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }
    }
}
