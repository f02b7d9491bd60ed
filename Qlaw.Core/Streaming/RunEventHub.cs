using System.Collections.Concurrent;
using System.Collections.Immutable;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Qlaw.Core.Limits;
using Qlaw.Core.RunStore;

namespace Qlaw.Core.Streaming;

/// <summary>
/// One <c>LISTEN</c> connection per process and an in-memory fan-out: on each notification the run's new rows are read
/// once and handed to every local subscriber of that run — no per-client polling. When the connection drops it is
/// re-established and every followed run is read again from where it was, so nothing is lost. Rows committed by this
/// process come sooner: their writer hands them over (<see cref="Publish"/>) without the read.
/// </summary>
public sealed partial class RunEventHub(NpgsqlDataSource dataSource, IOptionsMonitor<LimitsOptions> limits, ILogger<RunEventHub> logger) : BackgroundService, IRunEventPublisher
{
    private readonly ConcurrentDictionary<Guid, RunFeed> _feeds = new();
    private readonly ConcurrentDictionary<Guid, ImmutableList<Action>> _stopWatchers = new();

    /// <summary>
    /// Calls <paramref name="stopped"/> whenever a stop of the run is announced (<see cref="RunEventNotifications.StopChannel"/>)
    /// until the result is disposed. The callback runs on the listener's thread: keep it short.
    /// </summary>
    public IDisposable OnStop(Guid runId, Action stopped)
    {
        _stopWatchers.AddOrUpdate(runId, _ => [stopped], (_, list) => list.Add(stopped));
        return new StopWatch(() =>
        {
            if (_stopWatchers.AddOrUpdate(runId, _ => [], (_, list) => list.Remove(stopped)).IsEmpty)
            {
                _stopWatchers.TryRemove(new KeyValuePair<Guid, ImmutableList<Action>>(runId, []));
            }
        });
    }

    /// <summary>Follows a run: rows committed after the call (and possibly a few before) arrive on the subscription.</summary>
    public async Task<RunSubscription> SubscribeAsync(Guid runId, CancellationToken cancellationToken)
    {
        while (true)
        {
            var feed = _feeds.GetOrAdd(runId, id => new RunFeed(id));
            await feed.StartAsync(dataSource, cancellationToken);
            var subscription = feed.Add(this, limits.CurrentValue.MaxQueuedEventsPerStream);
            if (subscription is not null)
            {
                return subscription;
            }

            // The feed closed between lookup and add; take a fresh one.
            _feeds.TryRemove(new KeyValuePair<Guid, RunFeed>(runId, feed));
        }
    }

    /// <summary>
    /// Hands rows that a writer of this process has just committed — all the run's rows after
    /// <paramref name="previousId"/>, read under the run's lock — to the run's local subscribers, when they follow on
    /// from the last row forwarded to them. Otherwise (rows came between, or were forwarded already) the notification
    /// of the commit reads them from the log as it would have.
    /// </summary>
    public void Publish(Guid runId, long previousId, IReadOnlyList<RunEventRow> rows)
    {
        if (rows.Count > 0 && _feeds.TryGetValue(runId, out var feed))
        {
            feed.Publish(previousId, rows);
        }
    }

    /// <summary>
    /// Whether a stream of this process follows the run: only then is a write's hand-over worth preparing (a stream that
    /// starts following later reads the write from the log).
    /// </summary>
    public bool Follows(Guid runId) => _feeds.ContainsKey(runId);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, e) =>
                {
                    if (!RunEventNotifications.TryParse(e.Payload, out var runId, out var eventId))
                    {
                        return;
                    }

                    if (e.Channel == RunEventNotifications.StopChannel)
                    {
                        foreach (var stopped in _stopWatchers.GetValueOrDefault(runId, []))
                        {
                            stopped();
                        }
                    }
                    else if (_feeds.TryGetValue(runId, out var feed) && !feed.Forwarded(eventId))
                    {
                        feed.Pull(dataSource, logger);
                    }
                };
                await using (var listen = new NpgsqlCommand($"LISTEN {RunEventNotifications.StopChannel}; LISTEN {RunEventNotifications.Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                // Anything committed while we were not listening is read now.
                foreach (var feed in _feeds.Values)
                {
                    feed.Pull(dataSource, logger);
                }

                LogListening(logger);
                while (!stoppingToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogListenFailed(logger, ex);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
    }

    private sealed class StopWatch(Action dispose) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                dispose();
            }
        }
    }

    internal void Remove(RunFeed feed)
    {
        if (feed.IsEmpty)
        {
            _feeds.TryRemove(new KeyValuePair<Guid, RunFeed>(feed.RunId, feed));
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Listening for run events")]
    private static partial void LogListening(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The run event listener lost its connection; reconnecting")]
    private static partial void LogListenFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading new events of run {RunId} failed; the next notification retries")]
    internal static partial void LogPullFailed(ILogger logger, Guid runId, Exception exception);
}
