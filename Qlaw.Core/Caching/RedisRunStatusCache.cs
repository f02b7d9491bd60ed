using System.Text.Json;
using Microsoft.Extensions.Logging;
using Qlaw.Contracts;
using Qlaw.Contracts.Runs;
using StackExchange.Redis;

namespace Qlaw.Core.Caching;

/// <summary>
/// Run status snapshots in Redis. Redis speeds reads up but is never needed: while it is down, commands fail at once
/// (no backlog), each failure is answered as a miss, one warning is logged per outage, and the connection comes back by
/// itself.
/// </summary>
internal sealed partial class RedisRunStatusCache : IRunStatusCache
{
    // Bump when RunStatusResponse changes shape, so that a deployment never reads the previous one's snapshots.
    private const string KeyVersion = "v1";
    private readonly RedisConnection _redis;
    private readonly RedisOptions _options;
    private readonly ILogger<RedisRunStatusCache> _logger;
    private int _failing;

    public RedisRunStatusCache(RedisConnection redis, ILogger<RedisRunStatusCache> logger)
    {
        (_redis, _options, _logger) = (redis, redis.Options, logger);
    }

    /// <summary>The key of a run's snapshot.</summary>
    public static string Key(string prefix, Guid runId) => $"{prefix}run-status:{KeyVersion}:{runId:N}";

    public async Task<RunStatusResponse?> GetAsync(Guid runId, CancellationToken cancellationToken)
    {
        try
        {
            var database = _redis.Multiplexer.GetDatabase();
            var value = await database.StringGetAsync(Key(_options.KeyPrefix, runId)).WaitAsync(cancellationToken);
            Succeeded();
            return value.IsNullOrEmpty ? null : JsonSerializer.Deserialize<RunStatusResponse>(value.ToString(), QlawJson.Options);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or JsonException)
        {
            Failed(ex);
            return null;
        }
    }

    public async Task SetAsync(RunStatusResponse status, CancellationToken cancellationToken)
    {
        try
        {
            var database = _redis.Multiplexer.GetDatabase();
            var json = JsonSerializer.Serialize(status, QlawJson.Options);
            await database.StringSetAsync(Key(_options.KeyPrefix, status.Id), json, TimeSpan.FromSeconds(_options.SnapshotTtlSeconds), When.Always)
                .WaitAsync(cancellationToken);
            Succeeded();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Failed(ex);
        }
    }

    private void Failed(Exception exception)
    {
        if (Interlocked.Exchange(ref _failing, 1) == 0)
        {
            LogUnavailable(_logger, exception);
        }
    }

    private void Succeeded()
    {
        if (Interlocked.Exchange(ref _failing, 0) == 1)
        {
            LogRecovered(_logger);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unavailable; run status snapshots are read from PostgreSQL until it is back")]
    private static partial void LogUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis is available again; ended runs' status snapshots are cached")]
    private static partial void LogRecovered(ILogger logger);
}
