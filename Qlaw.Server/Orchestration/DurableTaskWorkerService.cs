using DurableTask.AzureStorage;
using DurableTask.Core;
using DurableTask.Core.Middleware;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Worker.Shims;
using Microsoft.Extensions.Options;
using Qlaw.Core;

namespace Qlaw.Server.Orchestration;

/// <summary>
/// Runs Core's orchestrator and activities on a <see cref="TaskHubWorker"/> through the Microsoft.DurableTask shims —
/// the programming model Durable Functions uses, so both hosts share them verbatim. Storage that is down at start is
/// retried in the background instead of failing the host (readiness reports it meanwhile). When the hub's storage
/// was lost (<see cref="RequestRestart"/>), the worker is replaced by a new one on a freshly created hub.
/// </summary>
internal sealed partial class DurableTaskWorkerService(
    AzureStorageOrchestrationService service, AzureStorageOrchestrationServiceSettings settings, IOptions<DurableHubOptions> options, IServiceProvider services,
    ILoggerFactory loggerFactory, ILogger<DurableTaskWorkerService> logger)
    : BackgroundService
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);
    private readonly SemaphoreSlim _restart = new(0, 1);
    private (TaskHubWorker Worker, ActivitiesInFlight Activities)? _running;

    /// <summary>Asks for a new worker on a re-created hub (the storage lost the hub's queues, tables or leases).</summary>
    public void RequestRestart()
    {
        try
        {
            _restart.Release();
        }
        catch (SemaphoreFullException)
        {
            // A restart is already pending.
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var shims = new DurableTaskShimFactory(null, loggerFactory);
        var hub = service;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await hub.CreateIfNotExistsAsync().WaitAsync(stoppingToken);
                var worker = new TaskHubWorker(new ErrorBackoffOrchestrationService(hub, options.Value.ErrorBackoff), loggerFactory);
                var activities = new ActivitiesInFlight();
                worker.AddActivityDispatcherMiddleware(activities.TrackAsync);
                foreach (var (name, type) in QlawOrchestration.Orchestrators)
                {
                    worker.AddTaskOrchestrations(new Creator<TaskOrchestration>(
                        name, () => shims.CreateOrchestration(name, (ITaskOrchestrator)ActivatorUtilities.CreateInstance(services, type))));
                }

                foreach (var (name, type) in QlawOrchestration.Activities)
                {
                    worker.AddTaskActivities(new Creator<TaskActivity>(
                        name, () => shims.CreateActivity(name, (ITaskActivity)ActivatorUtilities.CreateInstance(services, type))));
                }

                await worker.StartAsync();
                _running = (worker, activities);
                LogStarted(logger);

                await _restart.WaitAsync(stoppingToken);
                LogRestarting(logger);
                _running = null;
                await StopBoundedAsync(worker, activities, CancellationToken.None);
                hub = new AzureStorageOrchestrationService(settings);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogStartFailed(logger, ex);
                await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken);
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_running is { } running)
        {
            // Once: a host that stops the service again finds nothing to stop.
            _running = null;
            await StopBoundedAsync(running.Worker, running.Activities, cancellationToken);
        }
    }

    // Graceful where it matters: no new work is taken, the activities (turns) being executed finish and report, then
    // the partitions are released. The dispatchers are stopped "forced" only so that they do not poll in one-second
    // steps, up to eight, for fetchers and idle extended sessions, which hold nothing uncommitted (a stop took 2 s
    // idle and 9 s after a run; now about 1 s, the partition's drain).
    // Bounded: a storage account that went away mid-run can keep the partition manager from ever shutting down; nothing
    // is lost by leaving then (the leases expire, the reconciler re-drives what was in flight).
    private async Task StopBoundedAsync(TaskHubWorker worker, ActivitiesInFlight activities, CancellationToken cancellationToken)
    {
        await worker.TaskOrchestrationDispatcher.StopAsync(forced: true);
        await worker.TaskActivityDispatcher.StopAsync(forced: true);
        try
        {
            await activities.WhenIdleAsync().WaitAsync(StopTimeout, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            // Their messages are delivered again after the visibility timeout; the journal keeps a turn from counting twice.
            LogActivitiesLeft(logger, StopTimeout.TotalSeconds);
        }

        try
        {
            await worker.StopAsync(isForced: true).WaitAsync(StopTimeout, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            LogStopAbandoned(logger, StopTimeout.TotalSeconds);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The task hub's storage was lost; restarting the Durable Task worker on a re-created hub")]
    private static partial void LogRestarting(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Activities still running after {Seconds} s of stopping were left to be delivered again")]
    private static partial void LogActivitiesLeft(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The Durable Task worker did not stop within {Seconds} s; leaving it")]
    private static partial void LogStopAbandoned(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Durable Task worker started")]
    private static partial void LogStarted(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Durable Task worker could not start; retrying")]
    private static partial void LogStartFailed(ILogger logger, Exception exception);

    private sealed class Creator<T> : ObjectCreator<T>
    {
        private readonly Func<T> _create;

        public Creator(string name, Func<T> create)
        {
            Name = name;
            Version = string.Empty;
            _create = create;
        }

        public override T Create() => _create();
    }
}

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
