using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using Qlaw.Core.RunStore;

namespace Qlaw.Core.Streaming;

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

        async Task LoadLastIdAsync(NpgsqlDataSource source) => _lastId = await RunLog.LastEventIdAsync(source, runId, CancellationToken.None);
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
