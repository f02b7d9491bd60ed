using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Qlaw.Core.Operations;
using Qlaw.Core.Signals;

namespace Qlaw.Functions.Orchestration;

/// <summary>
/// Self-healing on Functions: the passes Qlaw.Server's RecoveryWorker runs, from a timer (timer triggers run on one
/// instance at a time): deliver left-over outbox signals, re-drive lost or stale runs from PostgreSQL, then purge the hub
/// history of orchestrations that ended (<c>Retention:HubHistorySeconds</c>).
/// The cadence is the app setting <see cref="ScheduleSetting"/> (an NCRONTAB expression): every few minutes lets the app
/// scale to zero between passes, at the price of a lost run or an undelivered signal waiting up to that long.
/// </summary>
public static class RecoveryFunctions
{
    /// <summary>The app setting that holds the timer's schedule; the host refuses to start the function without it.</summary>
    public const string ScheduleSetting = "QLAW_RECOVERY_SCHEDULE";

    [Function(nameof(RecoverRuns))]
    public static async Task RecoverRuns(
        [TimerTrigger("%" + ScheduleSetting + "%")] TimerInfo timer, [DurableClient] DurableTaskClient client, FunctionContext context)
    {
        var services = context.InstanceServices;
        services.GetRequiredService<DurableClientAccessor>().Client = client;
        await services.GetRequiredService<RunSignals>().DeliverPendingAsync(context.CancellationToken);
        await services.GetRequiredService<RunReconciler>().ReconcileOnceAsync(context.CancellationToken);
        await services.GetRequiredService<RunRetention>().PurgeHubHistoryOnceAsync(context.CancellationToken);
    }

    /// <summary>Retention on Functions: hourly, ended runs older than <c>Retention:DeleteRunsAfterSeconds</c> are deleted (off unless set).</summary>
    [Function(nameof(PurgeExpiredRuns))]
    public static async Task PurgeExpiredRuns(
        [TimerTrigger("0 0 * * * *")] TimerInfo timer, [DurableClient] DurableTaskClient client, FunctionContext context)
    {
        var services = context.InstanceServices;
        services.GetRequiredService<DurableClientAccessor>().Client = client;
        await services.GetRequiredService<RunRetention>().PurgeOnceAsync(context.CancellationToken);
    }
}
