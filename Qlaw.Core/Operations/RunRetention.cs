using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaw.Contracts;
using Qlaw.Core.Orchestration;
using Qlaw.Core.RunStore;
using Qlaw.Data;
using Qlaw.Data.Runs;

namespace Qlaw.Core.Operations;

/// <summary>
/// Deletes ended runs older than <see cref="RetentionOptions.DeleteRunsAfterSeconds"/> in bounded batches: first each run's Durable Task
/// instances (every generation it was re-seeded as), then in one transaction its signals, events, audit entries,
/// handoffs, steps and the run itself. A batch that fails part-way is taken again by the next pass. A second, frequent
/// pass purges the hub history of orchestrations that ended (<see cref="RetentionOptions.HubHistorySeconds"/>).
/// </summary>
public sealed partial class RunRetention(
    QlawDbContext db, IRunScheduler scheduler, IOptionsMonitor<RetentionOptions> options, TimeProvider clock, ILogger<RunRetention> logger)
{
    /// <summary>One pass: deletes up to <see cref="RetentionOptions.MaxBatchesPerPass"/> batches; returns the runs deleted.</summary>
    public async Task<int> PurgeOnceAsync(CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        if (settings.DeleteRunsAfterSeconds == 0)
        {
            return 0;
        }

        var cutoff = clock.GetUtcNow().AddSeconds(-settings.DeleteRunsAfterSeconds);
        var total = 0;
        for (var batch = 0; batch < settings.MaxBatchesPerPass; batch++)
        {
            var deleted = await PurgeBatchAsync(cutoff, settings.BatchSize, cancellationToken);
            total += deleted;
            if (deleted < settings.BatchSize)
            {
                break;
            }
        }

        // A deleted workflow's row stayed for its runs; it goes with the last of them.
        await db.Workflows.Where(w => w.DeletedAt != null && !db.Runs.Any(r => r.WorkflowId == w.Id)).ExecuteDeleteAsync(cancellationToken);
        return total;
    }

    /// <summary>
    /// One pass over the hub: purges the history of orchestrations that ended and were created more than
    /// <see cref="RetentionOptions.HubHistorySeconds"/> ago; returns how many were purged.
    /// </summary>
    public async Task<int> PurgeHubHistoryOnceAsync(CancellationToken cancellationToken)
    {
        var seconds = options.CurrentValue.HubHistorySeconds;
        if (seconds == 0)
        {
            return 0;
        }

        var cutoff = clock.GetUtcNow().AddSeconds(-seconds);
        var purged = await scheduler.PurgeEndedAsync(cutoff, cancellationToken);
        if (purged > 0)
        {
            LogHubPurged(logger, purged, cutoff);
        }

        return purged;
    }

    private async Task<int> PurgeBatchAsync(DateTimeOffset cutoff, int size, CancellationToken cancellationToken)
    {
        var ids = await Ended(db.Runs.Where(r => r.CompletedAt < cutoff)).OrderBy(r => r.Id).Take(size).Select(r => r.Id).ToListAsync(cancellationToken);
        return ids.Count == 0 ? 0 : await DeleteAsync(ids, cutoff, cancellationToken);
    }

    /// <summary>
    /// Deletes one run that has ended, with its history and orchestrations (<c>DELETE /v1/responses/{id}</c>); false when
    /// it does not exist or has not ended.
    /// </summary>
    public async Task<bool> DeleteEndedAsync(Guid runId, CancellationToken cancellationToken) =>
        await Ended(db.Runs.Where(r => r.Id == runId)).AnyAsync(cancellationToken) && await DeleteAsync([runId], clock.GetUtcNow(), cancellationToken) == 1;

    // Runs that ended for good: completed, cancelled, or failed with an end time (a dead letter has none).
    private static IQueryable<RunEntity> Ended(IQueryable<RunEntity> runs) =>
        runs.Where(r => r.CompletedAt != null && (r.Status == RunStatus.Completed || r.Status == RunStatus.Cancelled || r.Status == RunStatus.Failed));

    // Each run's Durable Task instances first (every generation it was seeded as), then its rows in one transaction.
    private async Task<int> DeleteAsync(List<Guid> ids, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var generations = await db.AuditLogs
            .Where(a => a.RunId != null && ids.Contains(a.RunId.Value) && (a.Type == AuditTypes.RunResumed || a.Type == AuditTypes.RunRecovered))
            .GroupBy(a => a.RunId!.Value).Select(g => new { Run = g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.Run, g => g.Count, cancellationToken);

        // The first instance is run-{id}; each re-seeding started run-{id}-r{n} (RunRedriver).
        var instances = 0;
        foreach (var id in ids)
        {
            foreach (var instance in Enumerable.Range(0, generations.GetValueOrDefault(id) + 1).Select(n => $"run-{id:N}-r{n}").Prepend($"run-{id:N}"))
            {
                await scheduler.PurgeAsync(instance, cancellationToken);
                instances++;
            }
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var signals = await db.RunSignals.Where(s => ids.Contains(s.RunId)).ExecuteDeleteAsync(cancellationToken);
        var events = await db.RunEvents.Where(e => ids.Contains(e.RunId)).ExecuteDeleteAsync(cancellationToken);
        var audit = await db.AuditLogs.Where(a => a.RunId != null && ids.Contains(a.RunId.Value)).ExecuteDeleteAsync(cancellationToken);
        var handoffs = await db.Handoffs.Where(h => ids.Contains(h.RunId)).ExecuteDeleteAsync(cancellationToken);
        var steps = await db.Steps.Where(s => ids.Contains(s.RunId)).ExecuteDeleteAsync(cancellationToken);
        var deleted = await db.Runs.Where(r => ids.Contains(r.Id)).ExecuteDeleteAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        LogPurged(logger, deleted, steps, handoffs, events, audit, signals, instances, cutoff);
        return deleted;
    }

    [LoggerMessage(Level = LogLevel.Information, Message =
        "Deleted {Runs} runs ended before {Cutoff:u} with {Steps} steps, {Handoffs} handoffs, {Events} events, {Audit} audit entries and {Signals} signals, and purged {Instances} orchestration instances")]
    private static partial void LogPurged(ILogger logger, int runs, int steps, int handoffs, int events, int audit, int signals, int instances, DateTimeOffset cutoff);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Purged the hub history of {Instances} ended orchestrations created before {Cutoff:u}")]
    private static partial void LogHubPurged(ILogger logger, int instances, DateTimeOffset cutoff);
}
