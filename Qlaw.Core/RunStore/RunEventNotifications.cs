namespace Qlaw.Core.RunStore;

/// <summary>
/// New <c>run_events</c> rows are announced with <c>NOTIFY</c> on <see cref="Channel"/> by a row trigger on the table
/// (migrations <c>RunEventsNotify</c>, <c>RunEventsNotifyPerRow</c>, <c>RunEventsNotifyWithId</c>), each row with the
/// run's id and its own (<c>{run:N}:{id}</c>); PostgreSQL delivers them on commit, so a listener never hears of a row
/// it cannot read yet. The same trigger still announces each run once per transaction on <c>qlaw_run_events</c>,
/// for the servers of the version before, which listen there while a release's migrations are applied.
/// </summary>
public static class RunEventNotifications
{
    public const string Channel = "qlaw_run_rows";

    /// <summary>Announces that a run's running attempt must stop (the run was cancelled, or the attempt superseded).</summary>
    public const string StopChannel = "qlaw_run_stops";

    /// <summary>
    /// Reads a payload: the run's id (32 hex digits), then <c>:</c> and the event's id when it names a row (a row's
    /// announcement on <see cref="Channel"/>; a stop names none).
    /// </summary>
    public static bool TryParse(string payload, out Guid runId, out long? eventId)
    {
        eventId = null;
        var colon = payload.IndexOf(':', StringComparison.Ordinal);
        if (!Guid.TryParseExact(colon < 0 ? payload : payload.AsSpan(0, colon), "N", out runId))
        {
            return false;
        }

        if (colon >= 0 && long.TryParse(payload.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id))
        {
            eventId = id;
        }

        return true;
    }
}

/// <summary>A row of a run's event log, as streamed.</summary>
public sealed record RunEventRow(long Id, string Type, string Data)
{
    /// <summary>Ends a stream whose reader fell too far behind (compared by reference): it resumes with Last-Event-ID.</summary>
    public static RunEventRow Lagged { get; } = new(-1, "lagging", "");
}

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
