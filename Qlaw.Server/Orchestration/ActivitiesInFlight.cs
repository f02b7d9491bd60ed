using DurableTask.Core.Middleware;

namespace Qlaw.Server.Orchestration;

/// <summary>
/// The activities a worker is executing, counted by a dispatcher middleware, so that a stop can wait for exactly them
/// instead of the dispatchers' own one-second polls of fetchers and idle orchestration sessions.
/// </summary>
internal sealed class ActivitiesInFlight
{
    private readonly Lock _gate = new();
    private int _count;
    private TaskCompletionSource? _idle;

    public async Task TrackAsync(DispatchMiddlewareContext context, Func<Task> next)
    {
        lock (_gate)
        {
            _count++;
        }

        try
        {
            await next();
        }
        finally
        {
            lock (_gate)
            {
                if (--_count == 0)
                {
                    _idle?.TrySetResult();
                    _idle = null;
                }
            }
        }
    }

    /// <summary>Completes when no activity is executing.</summary>
    public Task WhenIdleAsync()
    {
        lock (_gate)
        {
            if (_count == 0)
            {
                return Task.CompletedTask;
            }

            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _idle.Task;
        }
    }
}
