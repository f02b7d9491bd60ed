using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Qlaw.Core.Orchestration;

namespace Qlaw.Functions.Orchestration;

/// <summary>
/// The invocation's <see cref="DurableTaskClient"/>: Durable Functions hands it to each trigger through the
/// <c>[DurableClient]</c> binding, not through dependency injection, so triggers set it here; it flows with the
/// invocation's async calls, including into the scopes Core creates.
/// </summary>
public sealed class DurableClientAccessor
{
    private readonly AsyncLocal<DurableTaskClient?> _current = new();

    public DurableTaskClient Client
    {
        get => _current.Value ?? throw new InvalidOperationException("This trigger has no [DurableClient] binding to schedule runs with.");
        set => _current.Value = value;
    }
}

/// <summary><see cref="IRunScheduler"/> over the Durable Functions client.</summary>
public sealed class DurableClientRunScheduler(DurableClientAccessor accessor) : IRunScheduler
{
    public async Task ScheduleAsync(string instanceId, RunOrchestrationInput input, CancellationToken cancellationToken, bool fresh = false)
    {
        // Scheduling is idempotent: a run whose orchestration is under way is left alone.
        if (fresh || await GetStateAsync(instanceId, cancellationToken) is not (InstanceState.Running or InstanceState.Pending))
        {
            await accessor.Client.ScheduleNewOrchestrationInstanceAsync(
                new TaskName(RunOrchestrator.Name), input, new StartOrchestrationOptions(instanceId), cancellationToken);
        }
    }

    public Task RaiseContinueAsync(string instanceId, ContinueSignal signal, CancellationToken cancellationToken) =>
        accessor.Client.RaiseEventAsync(instanceId, ContinueSignal.EventName, signal, cancellationToken);

    public async Task TerminateAsync(string instanceId, string reason, CancellationToken cancellationToken)
    {
        if (await GetStateAsync(instanceId, cancellationToken) is InstanceState.Running or InstanceState.Pending)
        {
            await accessor.Client.TerminateInstanceAsync(instanceId, new TerminateInstanceOptions { Output = reason }, cancellationToken);
        }
    }

    public Task PurgeAsync(string instanceId, CancellationToken cancellationToken) =>
        accessor.Client.PurgeInstanceAsync(instanceId, cancellationToken);

    public async Task<int> PurgeEndedAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken)
    {
        // Listed, then purged one by one: what the storage providers' filtered purge does inside, and what every
        // backend of the client (the in-process test host too) supports.
        var query = new OrchestrationQuery
        {
            CreatedTo = createdBefore,
            Statuses = [OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated],
            FetchInputsAndOutputs = false,
        };
        var purged = 0;
        await foreach (var instance in accessor.Client.GetAllInstancesAsync(query).WithCancellation(cancellationToken))
        {
            purged += (await accessor.Client.PurgeInstanceAsync(instance.InstanceId, cancellationToken)).PurgedInstanceCount;
        }

        return purged;
    }

    public async Task<InstanceState> GetStateAsync(string instanceId, CancellationToken cancellationToken)
    {
        var instance = await accessor.Client.GetInstanceAsync(instanceId, getInputsAndOutputs: false, cancellationToken);
        return instance?.RuntimeStatus switch
        {
            null => InstanceState.Missing,
            OrchestrationRuntimeStatus.Pending => InstanceState.Pending,
            OrchestrationRuntimeStatus.Running or OrchestrationRuntimeStatus.Suspended => InstanceState.Running,
            OrchestrationRuntimeStatus.Completed => InstanceState.Completed,
            OrchestrationRuntimeStatus.Terminated => InstanceState.Terminated,
            _ => InstanceState.Failed,
        };
    }
}
