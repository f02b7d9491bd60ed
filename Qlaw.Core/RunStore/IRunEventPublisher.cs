namespace Qlaw.Core.RunStore;

/// <summary>
/// Hands the events a write committed to this process's streams of the run (Streaming implements it), so that they
/// see them without reading them back; every other process hears of them by <c>NOTIFY</c>.
/// </summary>
public interface IRunEventPublisher
{
    /// <summary>Whether a stream of this process follows the run (only then does a write read its events' ids back).</summary>
    bool Follows(Guid runId);

    /// <summary>The run's events <paramref name="rows"/>, committed after its event <paramref name="previousId"/>.</summary>
    void Publish(Guid runId, long previousId, IReadOnlyList<RunEventRow> rows);
}
