using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaw.Contracts;
using Qlaw.Core.Orchestration;
using Qlaw.Core.Runs;
using Qlaw.Core.Telemetry;
using Qlaw.Data;

namespace Qlaw.Core.Recovery;

/// <summary>
/// Finds runs that should be progressing but are not, and re-drives them from PostgreSQL (one host process at a time
/// runs it: <see cref="RecoveryWorker"/> holds an advisory lock, Qlaw.Functions runs it from a singleton timer).
/// <list type="bullet">
/// <item>A queued or running run quiet for <see cref="RecoveryOptions.ProbeAfterSeconds"/> has its orchestration
/// checked: missing, failed, terminated or completed while the row says otherwise → re-driven now.</item>
/// <item>One quiet for <see cref="RecoveryOptions.StaleAfterSeconds"/> (no step, event or heartbeat) → re-driven
/// whatever the hub says: the hub lost a message.</item>
/// </list>
/// Runs that wait legitimately (awaiting input, dead-lettered awaiting continue) are not looked at; a slow turn that
/// still heartbeats is not quiet. Re-driving runs the current step again only if it has no completed attempt.
/// </summary>
public sealed partial class RunReconciler(
    IServiceScopeFactory scopes, IOptionsMonitor<RecoveryOptions> options, TimeProvider clock, ILogger<RunReconciler> logger)
{
    /// <summary>One pass: every quiet run is probed and, when lost or stale, re-driven. Returns how many were.</summary>
    public async Task<int> ReconcileOnceAsync(CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        var now = clock.GetUtcNow();
        List<QuietRun> quiet;
        await using (var scope = scopes.CreateAsyncScope())
        {
            quiet = await QuietRunsAsync(scope.ServiceProvider.GetRequiredService<QlawDbContext>(), now - TimeSpan.FromSeconds(settings.ProbeAfterSeconds), settings.BatchSize, cancellationToken);
        }

        QlawTelemetry.ReportStuckRuns(quiet.Count(r => r.LastSign < now - TimeSpan.FromSeconds(settings.StaleAfterSeconds)));
        var recovered = 0;
        foreach (var run in quiet)
        {
            try
            {
                recovered += await ReconcileAsync(run, now, settings, cancellationToken) ? 1 : 0;
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
            {
                // One run the hub cannot take now must not hold up the others; the next pass tries it again.
                LogRunFailed(logger, run.Id, exception);
            }
        }

        return recovered;
    }

    private async Task<bool> ReconcileAsync(QuietRun run, DateTimeOffset now, RecoveryOptions settings, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var scheduler = scope.ServiceProvider.GetRequiredService<IRunScheduler>();
        var state = await scheduler.GetStateAsync(run.EntityId, cancellationToken);
        var stale = run.LastSign < now - TimeSpan.FromSeconds(settings.StaleAfterSeconds);
        string? reason = state switch
        {
            InstanceState.Missing => "orchestration instance missing",
            InstanceState.Failed => "orchestration instance failed",
            InstanceState.Terminated => "orchestration instance terminated",
            InstanceState.Completed => "orchestration instance completed while the run was not",
            _ when stale => $"no step, event or heartbeat for {(int)(now - run.LastSign).TotalSeconds} s",
            _ => null,
        };
        return reason is not null && await RedriveAsync(scope.ServiceProvider, run, reason, state, cancellationToken);
    }

    private async Task<bool> RedriveAsync(IServiceProvider services, QuietRun quiet, string reason, InstanceState state, CancellationToken cancellationToken)
    {
        var db = services.GetRequiredService<QlawDbContext>();
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock(hashtextextended({quiet.Id.ToString()}, 0))", cancellationToken);

        // Still the same run, still quiet, still on the same instance: nothing happened since it was picked.
        var run = await db.Runs.SingleAsync(r => r.Id == quiet.Id, cancellationToken);
        if (run.EntityId != quiet.EntityId || run.UpdatedAt != quiet.UpdatedAt || run.Status is not (RunStatus.Queued or RunStatus.Running))
        {
            return false;
        }

        var now = clock.GetUtcNow();
        AuditTypes.Add(db, run.Id, AuditTypes.RunRecovered, new { reason, previous_instance = quiet.EntityId, instance_state = state, step = run.CurrentStep, agent = run.CurrentAgent }, now);
        run.UpdatedAt = now;
        await db.SaveChangesAsync(cancellationToken);
        var instance = await services.GetRequiredService<RunRedriver>().ReseedAsync(run.Id, 0, null, cancellationToken);
        await tx.CommitAsync(cancellationToken);

        if (state is InstanceState.Running or InstanceState.Pending)
        {
            // The old instance is alive but lost: stop it (it is fenced off by its instance id anyway).
            await services.GetRequiredService<IRunScheduler>().TerminateAsync(quiet.EntityId, "superseded by recovery", cancellationToken);
        }

        QlawTelemetry.RunsRecovered.Add(1);
        LogRecovered(logger, run.Id, reason, instance);
        return true;
    }

    /// <summary>Queued or running runs with no sign of life (row change, step heartbeat or event) since <paramref name="cutoff"/>.</summary>
    internal static Task<List<QuietRun>> QuietRunsAsync(QlawDbContext db, DateTimeOffset cutoff, int limit, CancellationToken cancellationToken) =>
        db.Database.SqlQuery<QuietRun>($"""
            SELECT r.id, r.entity_id, r.updated_at,
                   GREATEST(r.updated_at,
                            COALESCE((SELECT max(COALESCE(s.heartbeat_at, s.started_at)) FROM steps s WHERE s.run_id = r.id AND s.status = 'running'), r.updated_at),
                            COALESCE((SELECT max(e.created_at) FROM run_events e WHERE e.run_id = r.id), r.updated_at)) AS last_sign
            FROM runs r
            WHERE r.status IN ('queued', 'running') AND r.updated_at < {cutoff} AND r.entity_id IS NOT NULL
            ORDER BY r.updated_at
            LIMIT {limit}
            """).Where(r => r.LastSign < cutoff).ToListAsync(cancellationToken);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not re-drive run {RunId} this pass")]
    private static partial void LogRunFailed(ILogger logger, Guid runId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovered run {RunId} ({Reason}) as orchestration {Instance}")]
    private static partial void LogRecovered(ILogger logger, Guid runId, string reason, string instance);

}

/// <summary>A queued or running run and its last sign of life.</summary>
public sealed record QuietRun(Guid Id, string EntityId, DateTimeOffset UpdatedAt, DateTimeOffset LastSign);
