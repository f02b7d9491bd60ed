using DurableTask.Core;
using DurableTask.Core.Exceptions;
using Qlaw.Core.Orchestration;
using CoreOrchestrationStatus = DurableTask.Core.OrchestrationStatus;

namespace Qlaw.Server.Orchestration;

/// <summary><see cref="IRunScheduler"/> over DurableTask.Core's <see cref="TaskHubClient"/>.</summary>
internal sealed class TaskHubRunScheduler(TaskHubClient client) : IRunScheduler
{
    private static readonly CoreOrchestrationStatus[] RunningStatuses =
        [CoreOrchestrationStatus.Pending, CoreOrchestrationStatus.Running, CoreOrchestrationStatus.ContinuedAsNew];

    public async Task ScheduleAsync(string instanceId, RunOrchestrationInput input, CancellationToken cancellationToken)
    {
        try
        {
            await client.CreateOrchestrationInstanceAsync(RunOrchestrator.Name, string.Empty, instanceId, input, null, RunningStatuses);
        }
        catch (OrchestrationAlreadyExistsException)
        {
            // Scheduling is idempotent: the run's orchestration is already under way.
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
        var state = await client.GetOrchestrationStateAsync(instanceId);
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
}
