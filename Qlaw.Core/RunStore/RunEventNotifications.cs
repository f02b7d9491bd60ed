namespace Qlaw.Core.RunStore;

/// <summary>
/// New <c>run_events</c> rows are announced with <c>NOTIFY</c> on <see cref="Channel"/> by a row trigger on the table
/// (migrations <c>RunEventsNotify</c>, <c>RunEventsNotifyPerRow</c>, <c>RunEventsNotifyWithId</c>), each row with the
/// run's id and its own (<c>{run:N}:{id}</c>); PostgreSQL delivers them on commit, so a listener never hears of a row
/// it cannot read yet. The same trigger still announces each run once per transaction on <see cref="RunChannel"/>,
/// for the servers of the version before, which listen there while a release's migrations are applied.
/// </summary>
public static class RunEventNotifications
{
    public const string Channel = "qlaw_run_rows";

    /// <summary>The run's id, once per transaction: what servers before <c>RunEventsNotifyWithId</c> listen to.</summary>
    public const string RunChannel = "qlaw_run_events";

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
