using Qlaw.Core.Orchestration;

namespace Qlaw.Testing;

/// <summary>
/// The hub's view of an orchestration lags PostgreSQL's: a run is marked ended by its last activity, and the
/// orchestration ends when the hub delivers that activity's result, a queue poll later. Termination is likewise a
/// queued message. Tests that check the hub wait for the orchestration to end.
/// </summary>
public static class HubState
{
    /// <summary>Waits until <paramref name="instance"/> is no longer pending or running (at most 60 s) and returns its state.</summary>
    public static async Task<InstanceState> EndedAsync(IRunScheduler scheduler, string instance)
    {
        var state = InstanceState.Pending;
        await Poll.UntilAsync(
            async () => (state = await scheduler.GetStateAsync(instance, CancellationToken.None)) is not (InstanceState.Pending or InstanceState.Running),
            TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100), $"The orchestration {instance} did not end within 60 s.");
        return state;
    }
}
