using System.Collections.Concurrent;
using DurableTask.AzureStorage;
using DurableTask.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Qlaw.Bench.Measure;
using Qlaw.Bench.Stack;
using Qlaw.Core.Operations;
using Qlaw.Server.Orchestration;

namespace Qlaw.Bench.Engine;

/// <summary>When one bare orchestration was started, ran its first activity and ran its last one.</summary>
internal sealed record ChainTiming(long StartedAt, long FirstActivityAt, long LastActivityAt);

/// <summary>
/// The bare Durable Task engine in this process: DurableTask.Core's <see cref="TaskHubWorker"/> on
/// <see cref="AzureStorageOrchestrationService"/> with the hub settings Qlaw.Server uses, running an orchestration
/// that calls a no-op activity <c>length</c> times in sequence — the same shape as a run's chain of agent turns, with
/// none of Qlaw's work in it. Like Qlaw.Server with its default <c>Retention</c> settings, it purges the hub history of
/// ended orchestrations as they age, so that both keep Azurite's tables equally small.
/// </summary>
internal sealed class BareEngine : IAsyncDisposable
{
    private static readonly OrchestrationStatus[] Ended =
        [OrchestrationStatus.Completed, OrchestrationStatus.Failed, OrchestrationStatus.Terminated, OrchestrationStatus.Canceled];

    private readonly TaskHubWorker _worker;
    private readonly TaskHubClient _client;
    private readonly ChainTracker _tracker;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _purging;
    private readonly AzureStorageOrchestrationService _service;

    private BareEngine(TaskHubWorker worker, TaskHubClient client, ChainTracker tracker, AzureStorageOrchestrationService service)
    {
        _worker = worker;
        _client = client;
        _tracker = tracker;
        _service = service;
        _purging = PurgeEndedAsync(service, new RetentionOptions(), _stop.Token);
    }

    /// <summary>
    /// Starts the engine on <paramref name="hub"/>; with <paramref name="activityTime"/> each activity takes that long
    /// (as a turn waiting on a paced model does, holding nothing), and a chain's last activity is timed at its end.
    /// </summary>
    public static async Task<BareEngine> StartAsync(HubSettings hub, string storageConnection, TimeSpan activityTime = default)
    {
        var service = new AzureStorageOrchestrationService(hub.ToEngineSettings(storageConnection));
        await service.CreateIfNotExistsAsync();
        var tracker = new ChainTracker();
        // As Qlaw.Server's worker sees its hub: the same pause after a failed fetch or episode.
        var worker = new TaskHubWorker(new ErrorBackoffOrchestrationService(service, hub.ErrorBackoff), NullLoggerFactory.Instance);
        worker.AddTaskOrchestrations(typeof(ChainOrchestration));
        worker.AddTaskActivities(new NameValueObjectCreator<TaskActivity>(NoOpActivity.Name, string.Empty, new NoOpActivity(tracker, activityTime)));
        await worker.StartAsync();
        return new BareEngine(worker, new TaskHubClient(service, null, NullLoggerFactory.Instance), tracker, service);
    }

    /// <summary>
    /// Deletes the history of every ended orchestration of this engine's hub and of <paramref name="serverHub"/>'s, so
    /// that a measured window starts on empty tables and meets no retention pass of the other's leftovers (Azurite's
    /// table queries scan a table's every row).
    /// </summary>
    public async Task PurgeEndedNowAsync(HubSettings serverHub, string storageConnection)
    {
        await _service.PurgeInstanceHistoryAsync(DateTime.MinValue, DateTime.UtcNow, Ended);
        var server = new AzureStorageOrchestrationService(serverHub.ToEngineSettings(storageConnection));
        await server.PurgeInstanceHistoryAsync(DateTime.MinValue, DateTime.UtcNow, Ended);
    }

    // What Qlaw.Server's RetentionWorker does for its hub, on the same defaults.
    private static async Task PurgeEndedAsync(AzureStorageOrchestrationService service, RetentionOptions retention, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(retention.HubHistoryIntervalSeconds), stop);
                await service.PurgeInstanceHistoryAsync(DateTime.MinValue, DateTime.UtcNow.AddSeconds(-retention.HubHistorySeconds), Ended);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // As the server's pass: the next one tries again.
            }
        }
    }

    /// <summary>Starts one orchestration of <paramref name="length"/> activities and waits until its last activity ran.</summary>
    public async Task<ChainTiming> RunAsync(int length, CancellationToken cancellationToken)
    {
        var instanceId = $"chain-{Guid.NewGuid():N}";
        var progress = _tracker.Track(instanceId, length);
        var startedAt = BenchClock.Now;
        await _client.CreateOrchestrationInstanceAsync(typeof(ChainOrchestration), instanceId, length);
        var lastAt = await progress.Last.Task.WaitAsync(cancellationToken);
        _tracker.Forget(instanceId);
        return new ChainTiming(startedAt, progress.FirstAt, lastAt);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _purging;
        _stop.Dispose();
        try
        {
            await _worker.StopAsync(isForced: true).WaitAsync(TimeSpan.FromSeconds(20));
        }
        catch (TimeoutException)
        {
            // The process ends soon anyway; nothing of the bare hub is needed afterwards.
        }
    }

    /// <summary>Calls the no-op activity <c>length</c> times, one after the other.</summary>
    private sealed class ChainOrchestration : TaskOrchestration<int, int>
    {
        public override async Task<int> RunTask(OrchestrationContext context, int input)
        {
            for (var step = 1; step <= input; step++)
            {
                await context.ScheduleTask<int>(NoOpActivity.Name, string.Empty, step);
            }

            return input;
        }
    }

    /// <summary>Does nothing (for <paramref name="time"/>, when given) but tell the tracker it ran.</summary>
    private sealed class NoOpActivity(ChainTracker tracker, TimeSpan time) : AsyncTaskActivity<int, int>
    {
        public const string Name = "NoOp";

        protected override async Task<int> ExecuteAsync(TaskContext context, int input)
        {
            if (time > TimeSpan.Zero)
            {
                await Task.Delay(time);
            }

            tracker.OnStep(context.OrchestrationInstance.InstanceId, input);
            return input;
        }
    }

    private sealed class ChainProgress(int length)
    {
        public int Length => length;

        public long FirstAt { get; set; }

        public TaskCompletionSource<long> Last { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class ChainTracker
    {
        private readonly ConcurrentDictionary<string, ChainProgress> _chains = new(StringComparer.Ordinal);

        public ChainProgress Track(string instanceId, int length) => _chains[instanceId] = new ChainProgress(length);

        public void Forget(string instanceId) => _chains.TryRemove(instanceId, out _);

        public void OnStep(string instanceId, int step)
        {
            if (!_chains.TryGetValue(instanceId, out var chain))
            {
                return;
            }

            var now = BenchClock.Now;
            if (step == 1 && chain.FirstAt == 0)
            {
                chain.FirstAt = now;
            }

            if (step == chain.Length)
            {
                chain.Last.TrySetResult(now);
            }
        }
    }
}
