namespace Qlaw.Core.Orchestration;

/// <summary>State of a run's orchestration instance as the Durable Task hub reports it.</summary>
public enum InstanceState
{
    Missing,
    Pending,
    Running,
    Completed,
    Failed,
    Terminated,
}

/// <summary>
/// The Durable Task client operations Qlaw needs. Qlaw.Server implements it with <c>TaskHubClient</c>; the Functions
/// host with <c>DurableTaskClient</c>.
/// </summary>
public interface IRunScheduler
{
    /// <summary>
    /// Starts orchestration <paramref name="instanceId"/>; a no-op when it already runs. A <paramref name="fresh"/>
    /// instance id was made for this start and cannot exist yet: the hub is not asked first (one storage read less
    /// per run; a second start of it, should the outbox deliver again, is such a check's and is dropped anyway).
    /// </summary>
    Task ScheduleAsync(string instanceId, RunOrchestrationInput input, CancellationToken cancellationToken, bool fresh = false);

    Task RaiseContinueAsync(string instanceId, ContinueSignal signal, CancellationToken cancellationToken);

    Task TerminateAsync(string instanceId, string reason, CancellationToken cancellationToken);

    Task<InstanceState> GetStateAsync(string instanceId, CancellationToken cancellationToken);

    /// <summary>Deletes the stored history of instance <paramref name="instanceId"/>; a no-op when there is none.</summary>
    Task PurgeAsync(string instanceId, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the stored history of every instance that ended (completed, failed, terminated) and was created before
    /// <paramref name="createdBefore"/>; instances still pending or running are left alone. Returns how many were purged.
    /// </summary>
    Task<int> PurgeEndedAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken);
}
