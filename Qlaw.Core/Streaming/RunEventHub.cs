using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Qlaw.Core.Limits;

namespace Qlaw.Core.Streaming;

/// <summary>A row of a run's event log, as streamed.</summary>
public sealed record RunEventRow(long Id, string Type, string Data)
{
    /// <summary>Ends a stream whose reader fell too far behind (compared by reference): it resumes with Last-Event-ID.</summary>
    public static RunEventRow Lagged { get; } = new(-1, "lagging", "");
}

/// <summary>
/// One <c>LISTEN</c> connection per process and an in-memory fan-out: on each notification the run's new rows are read
/// once and handed to every local subscriber of that run — no per-client polling. When the connection drops it is
/// re-established and every followed run is read again from where it was, so nothing is lost. Rows committed by this
/// process come sooner: their writer hands them over (<see cref="Publish"/>) without the read.
/// </summary>
public sealed partial class RunEventHub(NpgsqlDataSource dataSource, IOptionsMonitor<LimitsOptions> limits, ILogger<RunEventHub> logger) : BackgroundService
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

    /// <summary>The id of a run's latest committed event, 0 when none (<c>$1</c>: the run): where following it starts.</summary>
    internal const string LastEventIdSql = "SELECT coalesce(max(id), 0) FROM run_events WHERE run_id = $1";

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

/// <summary>The rows of one run that one process has read so far, and the local subscribers waiting for more.</summary>
internal sealed class RunFeed(Guid runId)
{
    private readonly Lock _gate = new();
    private readonly List<RunSubscription> _subscribers = [];
    private int _pulling;
    private Task? _start;
    private long _lastId;
    private bool _closed;
    private int _pullRequested;

    public Guid RunId => runId;

    public bool IsEmpty
    {
        get
        {
            lock (_gate)
            {
                return _subscribers.Count == 0;
            }
        }
    }

    /// <summary>Reads the run's current last id once, so that the feed forwards only what comes after.</summary>
    public Task StartAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return _start ??= LoadLastIdAsync(dataSource);
        }

        async Task LoadLastIdAsync(NpgsqlDataSource source)
        {
            await using var command = source.CreateCommand(RunEventHub.LastEventIdSql);
            command.Parameters.Add(new() { Value = runId });
            _lastId = (long)(await command.ExecuteScalarAsync(CancellationToken.None))!;
        }
    }

    public RunSubscription? Add(RunEventHub hub, int capacity)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return null;
            }

            var subscription = new RunSubscription(this, hub, capacity);
            _subscribers.Add(subscription);
            return subscription;
        }
    }

    public void Remove(RunSubscription subscription, RunEventHub hub)
    {
        lock (_gate)
        {
            _subscribers.Remove(subscription);
            if (_subscribers.Count == 0)
            {
                _closed = true;
            }
        }

        hub.Remove(this);
    }

    /// <summary>Forwards <paramref name="rows"/> when they follow on from the last row forwarded (see <see cref="RunEventHub.Publish"/>).</summary>
    public void Publish(long previousId, IReadOnlyList<RunEventRow> rows)
    {
        lock (_gate)
        {
            // Before the feed knows where it starts, or with a gap, the notification's read forwards them.
            if (_start is { IsCompletedSuccessfully: true } && _lastId == previousId)
            {
                ForwardLocked(rows);
            }
        }
    }

    /// <summary>
    /// Whether the row <paramref name="eventId"/> (announced by a notification; null when it did not say) was forwarded
    /// already, or came before the feed's start: then reading after the last row forwarded finds nothing of it. Every row
    /// is announced on its own, so a row after it has its own notification.
    /// </summary>
    public bool Forwarded(long? eventId) =>
        eventId is { } id && _start is { IsCompletedSuccessfully: true } && id <= Interlocked.Read(ref _lastId);

    /// <summary>Reads the rows after the last one read and hands them to every subscriber; concurrent calls coalesce.</summary>
    public void Pull(NpgsqlDataSource dataSource, ILogger logger)
    {
        Interlocked.Exchange(ref _pullRequested, 1);
        _ = PullAsync(dataSource, logger);
    }

    private async Task PullAsync(NpgsqlDataSource dataSource, ILogger logger)
    {
        // One pull at a time per feed; a request that arrives meanwhile makes the running pull loop once more.
        while (Volatile.Read(ref _pullRequested) == 1)
        {
            if (Interlocked.CompareExchange(ref _pulling, 1, 0) != 0)
            {
                return;
            }

            try
            {
                if (_start is not null)
                {
                    await _start;
                }

                while (Interlocked.Exchange(ref _pullRequested, 0) == 1)
                {
                    await ForwardNewRowsAsync(dataSource);
                }
            }
            catch (Exception ex)
            {
                RunEventHub.LogPullFailed(logger, runId, ex);
                return;
            }
            finally
            {
                Volatile.Write(ref _pulling, 0);
            }
        }
    }

    private async Task ForwardNewRowsAsync(NpgsqlDataSource dataSource)
    {
        List<RunEventRow> rows;
        do
        {
            rows = await ReadAfterAsync(dataSource, runId, Interlocked.Read(ref _lastId), 500, CancellationToken.None);
            if (rows.Count == 0)
            {
                return;
            }

            lock (_gate)
            {
                ForwardLocked(rows);
            }
        }
        while (rows.Count == 500);
    }

    // Under the gate, so that the rows a writer hands over and the rows read after a notification reach each subscriber
    // once and in order: only what comes after the last row forwarded goes out.
    private void ForwardLocked(IReadOnlyList<RunEventRow> rows)
    {
        var first = 0;
        while (first < rows.Count && rows[first].Id <= _lastId)
        {
            first++;
        }

        if (first == rows.Count)
        {
            return;
        }

        var fresh = first == 0 ? rows : rows.Skip(first).ToList();
        Interlocked.Exchange(ref _lastId, fresh[^1].Id);
        foreach (var subscriber in _subscribers)
        {
            subscriber.Deliver(fresh);
        }
    }

    /// <summary>The run's rows after <paramref name="afterId"/>, in order.</summary>
    public static async Task<List<RunEventRow>> ReadAfterAsync(NpgsqlDataSource dataSource, Guid runId, long afterId, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT id, type, data::text FROM run_events WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3");
        command.Parameters.Add(new() { Value = runId });
        command.Parameters.Add(new() { Value = afterId });
        command.Parameters.Add(new() { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<RunEventRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new RunEventRow(reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
        }

        return rows;
    }
}

/// <summary>
/// A subscriber's queue of new rows of one run, holding at most its capacity: a delivery that would overflow it
/// completes the queue instead and marks the subscriber <see cref="Lagged"/>. Dispose to stop following.
/// </summary>
public sealed class RunSubscription : IDisposable
{
    private readonly Channel<RunEventRow> _rows;
    private readonly RunFeed _feed;
    private readonly RunEventHub _hub;
    private readonly int _capacity;

    internal RunSubscription(RunFeed feed, RunEventHub hub, int capacity)
    {
        _feed = feed;
        _hub = hub;
        _capacity = capacity;
        _rows = Channel.CreateBounded<RunEventRow>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    }

    public ChannelReader<RunEventRow> Rows => _rows.Reader;

    /// <summary>The reader fell more than its capacity behind: the queue was completed, the reader resumes from the log.</summary>
    public bool Lagged { get; private set; }

    internal void Deliver(IReadOnlyList<RunEventRow> rows)
    {
        if (Lagged)
        {
            return;
        }

        if (_rows.Reader.Count + rows.Count > _capacity)
        {
            Lagged = true;
            _rows.Writer.TryComplete();
            return;
        }

        foreach (var row in rows)
        {
            _rows.Writer.TryWrite(row);
        }
    }

    public void Dispose()
    {
        _rows.Writer.TryComplete();
        _feed.Remove(this, _hub);
    }
}
