using System.Threading.Channels;
using Qlaw.Core.RunStore;

namespace Qlaw.Core.Streaming;

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
