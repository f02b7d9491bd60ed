using Microsoft.EntityFrameworkCore;
using Qlaw.Data;

namespace Qlaw.Core.Streaming;

/// <summary>
/// Writers announce new <c>run_events</c> rows with <c>NOTIFY</c>; PostgreSQL delivers it on commit, so a listener
/// never hears of a row it cannot read yet.
/// </summary>
public static class RunEventNotifications
{
    public const string Channel = "qlaw_run_events";

    /// <summary>Announces that a run's running attempt must stop (the run was cancelled, or the attempt superseded).</summary>
    public const string StopChannel = "qlaw_run_stops";

    /// <summary>Queues the notification in <paramref name="db"/>'s current transaction (sent when it commits).</summary>
    public static Task NotifyAsync(QlawDbContext db, Guid runId, CancellationToken cancellationToken) =>
        db.Database.ExecuteSqlAsync($"SELECT pg_notify('qlaw_run_events', {runId.ToString("N")})", cancellationToken);

    /// <summary>Queues a stop notification in <paramref name="db"/>'s current transaction (sent when it commits).</summary>
    public static Task NotifyStopAsync(QlawDbContext db, Guid runId, CancellationToken cancellationToken) =>
        db.Database.ExecuteSqlAsync($"SELECT pg_notify('qlaw_run_stops', {runId.ToString("N")})", cancellationToken);
}
