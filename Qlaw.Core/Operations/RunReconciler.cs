using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaw.Contracts;
using Qlaw.Contracts.Events;
using Qlaw.Core.Configuration;
using Qlaw.Core.Orchestration;
using Qlaw.Core.RunStore;
using Qlaw.Core.Runs;
using Qlaw.Core.Signals;
using Qlaw.Core.Telemetry;
using Qlaw.Data;

namespace Qlaw.Core.Operations;

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
/// still heartbeats is not quiet. Re-driving runs the current step again only if it has no completed attempt. A run
/// re-driven before whose orchestration the hub still calls pending or running, without a step begun since, waits twice
/// as long for each such re-drive (up to <see cref="MaxStaleFactor"/> × the stale time): every re-drive adds a start and
/// a terminate to a hub that is already behind.
/// </summary>
public sealed partial class RunReconciler(
    IServiceScopeFactory scopes, IOptionsMonitor<RecoveryOptions> options, TimeProvider clock, ILogger<RunReconciler> logger)
{
    /// <summary>The most a stale run's wait grows to, in multiples of <see cref="RecoveryOptions.StaleAfterSeconds"/>.</summary>
    public const int MaxStaleFactor = 8;

    /// <summary>One pass: every quiet run is probed and, when lost or stale, re-driven. Returns how many were.</summary>
    public async Task<int> ReconcileOnceAsync(CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        var now = clock.GetUtcNow();
        List<QuietRun> quiet;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<QlawDbContext>();
            var candidates = await RunQueries.QuietSince(db, now - TimeSpan.FromSeconds(settings.ProbeAfterSeconds))
                .Where(r => r.EntityId != null).OrderBy(r => r.UpdatedAt).Take(settings.BatchSize)
                .Select(r => new { r.Id, r.EntityId, r.UpdatedAt }).ToListAsync(cancellationToken);
            var ids = candidates.Select(r => r.Id).ToList();
            var stale = await RunQueries.QuietSince(db, now - TimeSpan.FromSeconds(settings.StaleAfterSeconds))
                .Where(r => ids.Contains(r.Id)).Select(r => r.Id).ToListAsync(cancellationToken);
            quiet = [.. candidates.Select(r => new QuietRun(r.Id, r.EntityId!, r.UpdatedAt, stale.Contains(r.Id)))];
        }

        await AbandonDeadLettersAsync(settings, now, cancellationToken);
        QlawTelemetry.ReportStuckRuns(quiet.Count(r => r.Stale));
        var recovered = 0;
        foreach (var run in quiet)
        {
            try
            {
                recovered += await ReconcileAsync(run, settings, cancellationToken) ? 1 : 0;
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
            {
                // One run the hub cannot take now must not hold up the others; the next pass tries it again.
                LogRunFailed(logger, run.Id, exception);
            }
        }

        return recovered;
    }

    private async Task<bool> ReconcileAsync(QuietRun run, RecoveryOptions settings, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var scheduler = scope.ServiceProvider.GetRequiredService<IRunScheduler>();
        var state = await scheduler.GetStateAsync(run.EntityId, cancellationToken);
        string? reason = state switch
        {
            InstanceState.Missing => "orchestration instance missing",
            InstanceState.Failed => "orchestration instance failed",
            InstanceState.Terminated => "orchestration instance terminated",
            InstanceState.Completed => "orchestration instance completed while the run was not",
            _ when run.Stale => $"no step, event or heartbeat for over {settings.StaleAfterSeconds} s",
            _ => null,
        };
        if (reason is not null && state is InstanceState.Pending or InstanceState.Running && await HeldBackAsync(scope.ServiceProvider, run, settings, cancellationToken))
        {
            return false;
        }

        return reason is not null && await RedriveAsync(scope.ServiceProvider, run, reason, state, cancellationToken);
    }

    // Whether a stale run whose orchestration the hub still holds waits longer: 2^n × the stale time after its n-th
    // re-drive without a step begun since (the hub's instance may be queued behind others, not lost).
    private async Task<bool> HeldBackAsync(IServiceProvider services, QuietRun run, RecoveryOptions settings, CancellationToken cancellationToken)
    {
        var db = services.GetRequiredService<QlawDbContext>();
        var stepBegun = await db.Steps.Where(s => s.RunId == run.Id).MaxAsync(s => (DateTimeOffset?)s.StartedAt, cancellationToken) ?? DateTimeOffset.MinValue;
        var redrives = await db.AuditLogs.CountAsync(a => a.RunId == run.Id && a.Type == AuditTypes.RunRecovered && a.CreatedAt > stepBegun, cancellationToken);
        var factor = Math.Min(MaxStaleFactor, 1 << Math.Min(redrives, 30));
        return clock.GetUtcNow() - run.UpdatedAt < TimeSpan.FromSeconds((double)settings.StaleAfterSeconds * factor);
    }

    private async Task<bool> RedriveAsync(IServiceProvider services, QuietRun quiet, string reason, InstanceState state, CancellationToken cancellationToken)
    {
        var db = services.GetRequiredService<QlawDbContext>();
        await using var write = await services.GetRequiredService<RunLog>().OpenAsync(quiet.Id, cancellationToken);

        // Still the same run, still quiet, still on the same instance: nothing happened since it was picked.
        var run = await db.Runs.AsNoTracking().SingleAsync(r => r.Id == quiet.Id, cancellationToken);
        if (run.EntityId != quiet.EntityId || run.UpdatedAt != quiet.UpdatedAt || run.Status is not (RunStatus.Queued or RunStatus.Running))
        {
            return false;
        }

        write.Audit(AuditTypes.RunRecovered, new RunRecovered(reason, quiet.EntityId, QlawJson.EnumName(state), run.CurrentStep, run.CurrentAgent));
        write.Stage("UPDATE runs SET updated_at = $2 WHERE id = $1", [run.Id, write.Now]);

        // Written before the new instance is named: its generation counts this recovery.
        await write.SaveAsync(cancellationToken);
        var instance = await services.GetRequiredService<RunRedriver>().ReseedAsync(write, 0, null, cancellationToken);
        await write.CommitAsync(cancellationToken);

        if (state is InstanceState.Running or InstanceState.Pending)
        {
            // The old instance is alive but lost: stop it (it is fenced off by its instance id anyway).
            await services.GetRequiredService<IRunScheduler>().TerminateAsync(quiet.EntityId, "superseded by recovery", cancellationToken);
        }

        QlawTelemetry.RunsRecovered.Add(1);
        LogRecovered(logger, run.Id, reason, instance);
        return true;
    }

    // Dead letters nobody continued within AbandonDeadLettersAfterSeconds end for good: the run is marked ended and
    // audited, and its orchestration (waiting for continue) terminated through the outbox; the hub's history pass purges it.
    private async Task AbandonDeadLettersAsync(RecoveryOptions settings, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var cutoff = now - TimeSpan.FromSeconds(settings.AbandonDeadLettersAfterSeconds);
        List<Guid> ids;
        await using (var scope = scopes.CreateAsyncScope())
        {
            ids = await scope.ServiceProvider.GetRequiredService<QlawDbContext>().Runs
                .Where(r => r.Status == RunStatus.Failed && r.CompletedAt == null && r.UpdatedAt < cutoff)
                .OrderBy(r => r.UpdatedAt).Take(settings.BatchSize).Select(r => r.Id).ToListAsync(cancellationToken);
        }

        foreach (var id in ids)
        {
            await using var scope = scopes.CreateAsyncScope();
            await using var write = await scope.ServiceProvider.GetRequiredService<RunLog>().OpenAsync(id, cancellationToken);
            if (await scope.ServiceProvider.GetRequiredService<RunEndings>().AbandonAsync(write, cutoff, settings.AbandonDeadLettersAfterSeconds, cancellationToken) is not { } run)
            {
                continue;
            }

            var signal = run.EntityId is { } instance
                ? RunSignals.Enqueue(write, RunSignal.TerminateKind, new RunSignal(instance, Reason: "dead letter abandoned"))
                : null;
            await write.CommitAsync(cancellationToken);
            QlawTelemetry.RunsAbandoned.Add(1);
            LogAbandoned(logger, run.Id, settings.AbandonDeadLettersAfterSeconds);
            if (signal is not null)
            {
                await scope.ServiceProvider.GetRequiredService<RunSignals>().DispatchAsync(signal.Id, cancellationToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Abandoned dead-lettered run {RunId}: no continue for {Seconds} s")]
    private static partial void LogAbandoned(ILogger logger, Guid runId, int seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not re-drive run {RunId} this pass")]
    private static partial void LogRunFailed(ILogger logger, Guid runId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovered run {RunId} ({Reason}) as orchestration {Instance}")]
    private static partial void LogRecovered(ILogger logger, Guid runId, string reason, string instance);

}

/// <summary>A queued or running run quiet past the probe threshold, and whether it is quiet past the stale one too.</summary>
public sealed record QuietRun(Guid Id, string EntityId, DateTimeOffset UpdatedAt, bool Stale);
