using System.Runtime.ExceptionServices;

namespace Qlaw.Core.RunStore;

/// <summary>
/// An attempt's first write (its step row, the transition into it, <c>executor_invoked</c>), sent under the run's lock
/// but not committed yet. It commits with the turn's first text when the model answers within the delta window — a
/// fast turn pays one commit, and its fsync, less — or on its own when the window ends first, so that a slow model
/// keeps the run's lock (which cancels and handoffs take) no longer than the window. Every later write of the attempt
/// goes after this commit (<see cref="CommitAsync"/>), which throws what made it fail.
/// </summary>
public sealed class PendingAttempt : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _disposed = new();
    private RunLogWrite? _write;
    private Exception? _failure;
    private Action? _committed;
    private Task _timer = Task.CompletedTask;
    private long _stepId;

    internal PendingAttempt(RunLogWrite write)
    {
        _write = write;
        StartedAt = write.Now;
    }

    /// <summary>When the attempt began: its step row's <c>started_at</c>.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>The attempt's step row, known once its first write is committed.</summary>
    public long StepId => _stepId != 0 ? _stepId : throw new InvalidOperationException("The attempt's step row is not committed yet.");

    internal void SetStepId(long id) => _stepId = id;

    /// <summary>
    /// Commits once <paramref name="window"/> has passed unless the first text came first (at once when it is zero),
    /// then calls <paramref name="committed"/>.
    /// </summary>
    public async Task CommitWithinAsync(TimeSpan window, TimeProvider clock, Action committed)
    {
        _committed = committed;
        if (window <= TimeSpan.Zero)
        {
            await CommitAsync(null);
            return;
        }

        _timer = CommitLaterAsync(window, clock);
    }

    /// <summary>
    /// Commits the attempt's first write with what <paramref name="stage"/> adds to it (the turn's first text, or its
    /// first tool call); false when it was committed already (the caller writes on its own).
    /// </summary>
    public async Task<bool> CommitAsync(Action<RunLogWrite>? stage)
    {
        await _gate.WaitAsync();
        try
        {
            if (_failure is not null)
            {
                ExceptionDispatchInfo.Throw(_failure);
            }

            if (_write is not { } write)
            {
                return false;
            }

            stage?.Invoke(write);

            try
            {
                await write.CommitAsync(CancellationToken.None);
            }
            catch (Exception exception)
            {
                _failure = exception;
                throw;
            }
            finally
            {
                _write = null;
                await write.DisposeAsync();
            }

            _committed?.Invoke();
            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Drops the write when it was never committed (the attempt then never began).</summary>
    public async ValueTask DisposeAsync()
    {
        await _disposed.CancelAsync();
        await _timer;
        if (_write is { } write)
        {
            _write = null;
            await write.DisposeAsync();
        }

        _gate.Dispose();
        _disposed.Dispose();
    }

    private async Task CommitLaterAsync(TimeSpan window, TimeProvider clock)
    {
        try
        {
            await Task.Delay(window, clock, _disposed.Token);
            await CommitAsync(null);
        }
        catch (OperationCanceledException)
        {
            // The turn ended first.
        }
        catch (Exception)
        {
            // Kept: the attempt's next write throws it.
        }
    }
}
