namespace Qlaw.Core.Streaming;

/// <summary>
/// New <c>run_events</c> rows are announced with <c>NOTIFY</c> on <see cref="Channel"/> by a row trigger on the table
/// (migrations <c>RunEventsNotify</c>, <c>RunEventsNotifyPerRow</c>); PostgreSQL delivers it on commit, once per run
/// and transaction, so a listener never hears of a row it cannot read yet.
/// </summary>
public static class RunEventNotifications
{
    public const string Channel = "qlaw_run_events";

    /// <summary>Announces that a run's running attempt must stop (the run was cancelled, or the attempt superseded).</summary>
    public const string StopChannel = "qlaw_run_stops";
}
