using Azure;
using DurableTask.AzureStorage;
using DurableTask.Core;
using DurableTask.Core.Exceptions;
using Qlaw.Core.Orchestration;
using CoreOrchestrationStatus = DurableTask.Core.OrchestrationStatus;

namespace Qlaw.Server.Orchestration;

/// <summary>
/// <see cref="IRunScheduler"/> over DurableTask.Core's <see cref="TaskHubClient"/>. A hub whose queues or tables were
/// lost (a wiped storage account, an emulator that dropped its data) is created again before scheduling.
/// </summary>
internal sealed class TaskHubRunScheduler(
    TaskHubClient client, AzureStorageOrchestrationService service, AzureStorageOrchestrationServiceSettings settings, DurableTaskWorkerService worker) : IRunScheduler
{
    private static readonly CoreOrchestrationStatus[] RunningStatuses =
        [CoreOrchestrationStatus.Pending, CoreOrchestrationStatus.Running, CoreOrchestrationStatus.ContinuedAsNew];

    private static readonly CoreOrchestrationStatus[] EndedStatuses =
        [CoreOrchestrationStatus.Completed, CoreOrchestrationStatus.Failed, CoreOrchestrationStatus.Terminated, CoreOrchestrationStatus.Canceled];

    public async Task ScheduleAsync(string instanceId, RunOrchestrationInput input, CancellationToken cancellationToken, bool fresh = false)
    {
        try
        {
            await client.CreateOrchestrationInstanceAsync(RunOrchestrator.Name, string.Empty, instanceId, input, null, fresh ? null : RunningStatuses);
        }
        catch (OrchestrationAlreadyExistsException)
        {
            // Scheduling is idempotent: the run's orchestration is already under way.
        }
        catch (Exception ex) when (IsHubMissing(ex))
        {
            await RecreateHubAsync();
            await client.CreateOrchestrationInstanceAsync(RunOrchestrator.Name, string.Empty, instanceId, input, null, RunningStatuses);
        }
    }

    public Task RaiseContinueAsync(string instanceId, ContinueSignal signal, CancellationToken cancellationToken) =>
        client.RaiseEventAsync(new OrchestrationInstance { InstanceId = instanceId }, ContinueSignal.EventName, signal);

    public async Task TerminateAsync(string instanceId, string reason, CancellationToken cancellationToken)
    {
        if (await GetStateAsync(instanceId, cancellationToken) is InstanceState.Running or InstanceState.Pending)
        {
            await client.TerminateInstanceAsync(new OrchestrationInstance { InstanceId = instanceId }, reason);
        }
    }

    public async Task<InstanceState> GetStateAsync(string instanceId, CancellationToken cancellationToken)
    {
        OrchestrationState? state;
        try
        {
            state = await client.GetOrchestrationStateAsync(instanceId);
        }
        catch (Exception ex) when (IsHubMissing(ex))
        {
            // The hub's tables are gone, and every instance with them: create the hub again for what comes next.
            await RecreateHubAsync();
            return InstanceState.Missing;
        }

        return state?.OrchestrationStatus switch
        {
            null => InstanceState.Missing,
            CoreOrchestrationStatus.Pending => InstanceState.Pending,
            CoreOrchestrationStatus.Running or CoreOrchestrationStatus.ContinuedAsNew or CoreOrchestrationStatus.Suspended => InstanceState.Running,
            CoreOrchestrationStatus.Completed => InstanceState.Completed,
            CoreOrchestrationStatus.Terminated or CoreOrchestrationStatus.Canceled => InstanceState.Terminated,
            _ => InstanceState.Failed,
        };
    }

    public async Task PurgeAsync(string instanceId, CancellationToken cancellationToken)
    {
        try
        {
            await service.PurgeInstanceHistoryAsync(instanceId);
        }
        catch (Exception ex) when (IsHubMissing(ex))
        {
            // No hub, no history to purge.
        }
    }

    public async Task<int> PurgeEndedAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken)
    {
        try
        {
            var result = await service.PurgeInstanceHistoryAsync(DateTime.MinValue, createdBefore.UtcDateTime, EndedStatuses);
            return result.InstancesDeleted;
        }
        catch (Exception ex) when (IsHubMissing(ex))
        {
            return 0;
        }
    }

    // A queue or table of the hub does not exist (404 from Azure Storage).
    private static bool IsHubMissing(Exception exception) =>
        exception is RequestFailedException { Status: 404 } || exception.InnerException is RequestFailedException { Status: 404 };

    // The service the worker holds remembers it created the hub once; a fresh one checks and creates what is missing.
    // The worker is replaced too: its partition manager lost its leases with the storage.
    private async Task RecreateHubAsync()
    {
        await new AzureStorageOrchestrationService(settings).CreateIfNotExistsAsync();
        worker.RequestRestart();
    }
}
