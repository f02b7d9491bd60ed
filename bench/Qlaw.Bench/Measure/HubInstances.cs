using DurableTask.AzureStorage;
using DurableTask.AzureStorage.Tracking;
using DurableTask.Core;
using Qlaw.Bench.Stack;

namespace Qlaw.Bench.Measure;

/// <summary>
/// Counts a server's orchestrations of runs (<c>run-…</c>) as its Durable Task hub stores them, read straight from the
/// hub's instance table with the provider the server runs on: those still waiting (pending or running: a dead letter
/// waits for <c>continue</c>) and all that are stored (ended ones until their history is purged).
/// </summary>
internal sealed class HubInstances(HubSettings hub, string storageConnection) : IDisposable
{
    private static readonly OrchestrationStatus[] Waiting =
        [OrchestrationStatus.Pending, OrchestrationStatus.Running, OrchestrationStatus.ContinuedAsNew, OrchestrationStatus.Suspended];

    private readonly AzureStorageOrchestrationService _service = new(hub.ToEngineSettings(storageConnection));

    /// <summary>Orchestrations of runs that have not ended.</summary>
    public Task<int> WaitingAsync(CancellationToken cancellationToken) => CountAsync(Waiting, cancellationToken);

    /// <summary>Orchestrations of runs the hub stores, in any state.</summary>
    public Task<int> StoredAsync(CancellationToken cancellationToken) => CountAsync(null, cancellationToken);

    public void Dispose() => _service.Dispose();

    private async Task<int> CountAsync(OrchestrationStatus[]? statuses, CancellationToken cancellationToken)
    {
        var condition = new OrchestrationInstanceStatusQueryCondition
        {
            RuntimeStatus = statuses,
            InstanceIdPrefix = "run-",
            FetchInput = false,
            FetchOutput = false,
        };
        var (count, token) = (0, (string?)null);
        do
        {
            var page = await _service.GetOrchestrationStateAsync(condition, 1000, token, cancellationToken);
            count += page.OrchestrationState.Count();
            token = page.ContinuationToken;
        }
        while (!string.IsNullOrEmpty(token));

        return count;
    }
}
