namespace Qlaw.Core.RunStore;

/// <summary>
/// One running attempt's text on its way to the run log (<see cref="DeltaBatcher"/>): appended as it streams, taken by
/// the batcher each window, and closed when the turn ends — the rest, not yet written, is then the caller's to write
/// with the turn's outcome, after every earlier write of it committed.
/// </summary>
public sealed class DeltaBuffer
{
    private readonly Lock _lock = new();
    private readonly DeltaBatcher _batcher;
    private readonly System.Text.StringBuilder _pending = new();
    private TaskCompletionSource? _inFlight;
    private bool _queued;
    private bool _closed;
    private volatile bool _stopped;

    internal DeltaBuffer(DeltaBatcher batcher, Guid runId, int step, int attempt, string agent)
    {
        (_batcher, RunId, Step, Attempt, Agent) = (batcher, runId, step, attempt, agent);
    }

    public Guid RunId { get; }

    public int Step { get; }

    public int Attempt { get; }

    public string Agent { get; }

    /// <summary>A write found the attempt no longer running: it was cancelled or superseded.</summary>
    public bool Stopped => _stopped;

    /// <summary>Adds text to be written with the next batch.</summary>
    public void Append(string text)
    {
        bool enqueue;
        lock (_lock)
        {
            _pending.Append(text);
            enqueue = !_queued && !_closed;
            _queued = true;
        }

        if (enqueue)
        {
            _batcher.Enqueue(this);
        }
    }

    /// <summary>Waits for a write of this buffer in flight, then takes what is not written yet (null when nothing).</summary>
    public async Task<string?> CloseAsync()
    {
        Task? inFlight;
        lock (_lock)
        {
            _closed = true;
            inFlight = _inFlight?.Task;
        }

        if (inFlight is not null)
        {
            await inFlight;
        }

        lock (_lock)
        {
            return TakeLocked();
        }
    }

    // The batcher takes the text to write; null once the buffer is closed (its owner writes the rest).
    internal string? Take()
    {
        lock (_lock)
        {
            _queued = false;
            if (_closed)
            {
                return null;
            }

            var text = TakeLocked();
            if (text is not null)
            {
                _inFlight = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            return text;
        }
    }

    internal void Written(bool inserted)
    {
        TaskCompletionSource? done;
        lock (_lock)
        {
            _stopped |= !inserted;
            (done, _inFlight) = (_inFlight, null);
        }

        done?.TrySetResult();
    }

    // The write failed: the text goes back in front, for the next batch or the turn's own last write.
    internal void Failed(string text)
    {
        TaskCompletionSource? done;
        bool enqueue;
        lock (_lock)
        {
            _pending.Insert(0, text);
            (done, _inFlight) = (_inFlight, null);
            enqueue = !_queued && !_closed;
            _queued |= enqueue;
        }

        if (enqueue)
        {
            _batcher.Enqueue(this);
        }

        done?.TrySetResult();
    }

    private string? TakeLocked()
    {
        if (_pending.Length == 0)
        {
            return null;
        }

        var text = _pending.ToString();
        _pending.Clear();
        return text;
    }
}
