using DurableTask.AzureStorage;
using DurableTask.Core;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Worker.Shims;
using Qlaw.Core.Orchestration;

namespace Qlaw.Server.Orchestration;

/// <summary>
/// Runs Core's orchestrator and activities on a <see cref="TaskHubWorker"/> through the Microsoft.DurableTask shims —
/// the programming model Durable Functions uses, so both hosts share them verbatim. Storage that is down at start is
/// retried in the background instead of failing the host (readiness reports it meanwhile).
/// </summary>
internal sealed partial class DurableTaskWorkerService(
    AzureStorageOrchestrationService service, IServiceProvider services, ILoggerFactory loggerFactory, ILogger<DurableTaskWorkerService> logger)
    : BackgroundService
{
    private TaskHubWorker? _worker;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var shims = new DurableTaskShimFactory(null, loggerFactory);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await service.CreateIfNotExistsAsync().WaitAsync(stoppingToken);
                var worker = new TaskHubWorker(service, loggerFactory);
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
                _worker = worker;
                LogStarted(logger);
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
        if (_worker is not null)
        {
            // Graceful: in-flight work items finish or are abandoned back to their queues.
            await _worker.StopAsync(isForced: false);
        }
    }

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
