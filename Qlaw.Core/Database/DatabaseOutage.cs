using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Qlaw.Core.Database;

/// <summary>
/// PostgreSQL out of reach (restarting, a network cut): an activity that hits it waits until the database answers
/// again (at most <see cref="DatabaseOptions.OutageWaitSeconds"/>) instead of spending its retries while nothing can
/// succeed — so a database restart costs a turn at most one attempt and dead-letters no run.
/// </summary>
public sealed partial class DatabaseOutage(NpgsqlDataSource dataSource, IOptionsMonitor<DatabaseOptions> options, TimeProvider clock, ILogger<DatabaseOutage> logger)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Whether <paramref name="exception"/> (or one it wraps) says the database cannot be reached: a connection that
    /// cannot be opened or broke, or the server starting or shutting down. A query's own error is not.
    /// </summary>
    public static bool IsOutage(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is NpgsqlException { IsTransient: true })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Returns once the database answers a query, or false when it still does not after the configured wait.</summary>
    public async Task<bool> WaitAsync(CancellationToken cancellationToken)
    {
        var started = clock.GetTimestamp();
        var limit = TimeSpan.FromSeconds(options.CurrentValue.OutageWaitSeconds);
        LogWaiting(logger, limit.TotalSeconds);

        // A query every Poll while it fails for the outage, for at most the limit (Polly: the retries inside the timeout).
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = clock }
            .AddTimeout(limit)
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(IsOutage),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Constant,
                Delay = Poll,
                UseJitter = false,
            })
            .Build();
        try
        {
            await pipeline.ExecuteAsync(
                async token =>
                {
                    await using var command = dataSource.CreateCommand("SELECT 1");
                    await command.ExecuteScalarAsync(token);
                },
                cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutRejectedException || IsOutage(ex))
        {
            return false;
        }

        var waited = clock.GetElapsedTime(started);
        LogBack(logger, waited.TotalSeconds);
        return true;
    }

    /// <summary>
    /// Runs <paramref name="operation"/> (idempotent, each call in its own unit of work) and, when the database is out
    /// of reach, waits for it and runs it again; the failure propagates when it does not come back in time.
    /// </summary>
    public async Task<T> RetryAsync<T>(Func<Task<T>> operation, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                return await operation();
            }
            catch (Exception ex) when (IsOutage(ex))
            {
                if (!await WaitAsync(cancellationToken))
                {
                    throw;
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL cannot be reached; waiting up to {Seconds} s for it before failing")]
    private static partial void LogWaiting(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "PostgreSQL answers again after {Seconds:0.0} s")]
    private static partial void LogBack(ILogger logger, double seconds);
}
