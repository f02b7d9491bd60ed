using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Qlaw.Contracts;
using Qlaw.Contracts.Runs;
using Qlaw.Core.Caching;
using Qlaw.Core.Configuration;
using Qlaw.Core.Limits;
using Qlaw.Core.Paging;
using Qlaw.Core.RunStore;
using Qlaw.Core.Workflows;
using Qlaw.Data;
using Qlaw.Data.Runs;

namespace Qlaw.Core.Runs;

/// <summary>Reads a run's state and audit trail from PostgreSQL; final snapshots of ended runs may come from a cache.</summary>
public sealed class RunQueries(
    QlawDbContext db, IRunStatusCache cache, IOptionsMonitor<RecoveryOptions> recovery, IOptionsMonitor<LimitsOptions> limits, TimeProvider clock)
{
    /// <summary>
    /// Runs across workflows, newest first: of one <paramref name="status"/> if given; with <paramref name="stale"/>,
    /// only queued or running runs without a step, event or heartbeat for <c>Recovery:StaleAfterSeconds</c> (the
    /// reconciler's candidates). The page cursor is the id of the last run of the previous page.
    /// </summary>
    public async Task<ListPage<RunSummary>> ListAsync(RunStatus? status, bool stale, PageRequest page, CancellationToken cancellationToken)
    {
        var query = (stale ? QuietSince(db, clock.GetUtcNow() - TimeSpan.FromSeconds(recovery.CurrentValue.StaleAfterSeconds)) : db.Runs).AsNoTracking();
        if (status is { } only)
        {
            query = query.Where(r => r.Status == only);
        }

        if (page.After is { } after)
        {
            query = query.Where(r => r.Id < after);
        }

        var rows = await query.OrderByDescending(r => r.Id).Take(page.Limit + 1).ToListAsync(cancellationToken);
        return page.ToPage(rows.Select(WorkflowCatalog.ToSummary).ToList(), r => r.Id);
    }

    /// <summary>
    /// Queued or running runs with no sign of life since <paramref name="cutoff"/>: no change to the run row, no
    /// heartbeat or start of a running step, no event. The one definition of "quiet" the operator view and the
    /// reconciler share.
    /// </summary>
    public static IQueryable<RunEntity> QuietSince(QlawDbContext db, DateTimeOffset cutoff) =>
        db.Runs.Where(r => (r.Status == RunStatus.Queued || r.Status == RunStatus.Running) && r.UpdatedAt < cutoff
            && !db.Steps.Any(s => s.RunId == r.Id && s.Status == StepStatus.Running && (s.HeartbeatAt ?? s.StartedAt) >= cutoff)
            && !db.RunEvents.Any(e => e.RunId == r.Id && e.CreatedAt >= cutoff));

    /// <summary>The run's state and every step attempt; null when the run does not exist.</summary>
    public async Task<RunStatusResponse?> GetStatusAsync(Guid runId, CancellationToken cancellationToken)
    {
        if (await cache.GetAsync(runId, cancellationToken) is { } cached)
        {
            return cached;
        }

        var run = await db.Runs.AsNoTracking().FirstOrDefaultAsync(r => r.Id == runId, cancellationToken);
        if (run is null)
        {
            return null;
        }

        var rows = await db.Steps.AsNoTracking().Where(s => s.RunId == runId)
            .OrderBy(s => s.Index).ThenBy(s => s.Attempt)
            .ToListAsync(cancellationToken);
        var outputChars = limits.CurrentValue.StatusOutputChars;
        var steps = rows.Select(s => View(s, outputChars)).ToList();
        var status = new RunStatusResponse(
            run.Id, run.WorkflowId, run.Status, run.CurrentStep, run.CurrentAgent,
            JsonSerializer.Deserialize<List<string>>(run.OriginStack, QlawJson.Options)!, steps, run.LastError,
            run.CreatedAt, run.StartedAt, run.CompletedAt, run.EntityId, RunLinksFactory.For(run.Id),
            JsonSerializer.Deserialize<List<string>>(run.Chain, QlawJson.Options)!, run.LastErrorCode, run.TokensUsed, run.ForkedFrom, run.FromStep);

        // Only a snapshot that can no longer change is cached: the run has ended and no attempt is still running.
        if (RunEndings.HasEnded(run) && rows.All(s => s.Status != StepStatus.Running))
        {
            await cache.SetAsync(status, cancellationToken);
        }

        return status;
    }

    /// <summary>
    /// A page of the run's step attempts in order, outputs whole: after the attempt <paramref name="after"/>
    /// (<c>{step}.{attempt}</c>), at most <paramref name="limit"/> and about <see cref="ListPages.MaxBytes"/> of output;
    /// null when the run does not exist.
    /// </summary>
    public async Task<ListPage<StepView>?> GetStepsAsync(Guid runId, int limit, (int Step, int Attempt)? after, CancellationToken cancellationToken)
    {
        if (!await db.Runs.AnyAsync(r => r.Id == runId, cancellationToken))
        {
            return null;
        }

        var query = db.Steps.AsNoTracking().Where(s => s.RunId == runId);
        if (after is var (step, attempt))
        {
            query = query.Where(s => s.Index > step || (s.Index == step && s.Attempt > attempt));
        }

        var rows = await query.OrderBy(s => s.Index).ThenBy(s => s.Attempt).Take(limit + 1).ToListAsync(cancellationToken);
        var kept = PageRequest.Fit(rows, limit, s => s.Output?.Length ?? 0);

        var page = rows.Take(kept).Select(s => View(s, int.MaxValue)).ToList();
        return new ListPage<StepView>(page, rows.Count > kept, page.Count > 0 ? $"{page[^1].Index}.{page[^1].Attempt}" : null);
    }

    // A step row as clients see it, its output cut to outputChars.
    private static StepView View(StepEntity s, int outputChars) => new(
        s.Index, s.Attempt, s.Agent, s.Status, s.StartedAt, s.CompletedAt,
        (s.CompletedAt - s.StartedAt)?.TotalMilliseconds,
        s.Output is { } output && output.Length > outputChars ? output[..outputChars] : s.Output,
        s.Error, s.ErrorCode,
        s.Waiting is { } waiting && s.Status == StepStatus.Running ? JsonSerializer.Deserialize<StepWaiting>(waiting, QlawJson.Options) : null,
        s.Output?.Length > outputChars ? true : null);

    /// <summary>A page of the run's audit entries in order; null when the run does not exist.</summary>
    public async Task<AuditPage?> GetAuditAsync(Guid runId, int limit, long? after, CancellationToken cancellationToken)
    {
        if (!await db.Runs.AnyAsync(r => r.Id == runId, cancellationToken))
        {
            return null;
        }

        var rows = await db.AuditLogs.AsNoTracking()
            .Where(a => a.RunId == runId && (after == null || a.Id > after))
            .OrderBy(a => a.Id).Take(limit + 1)
            .ToListAsync(cancellationToken);
        // At most limit entries, and about ListPages.MaxBytes of details (an entry can hold a prompt).
        var kept = PageRequest.Fit(rows, limit, a => a.Detail.Length);

        var page = rows.Take(kept)
            .Select(a => new AuditEntry(a.Id, a.RunId, a.Type, JsonDocument.Parse(a.Detail).RootElement, a.CreatedAt))
            .ToList();
        return new AuditPage(page, rows.Count > kept, page.Count > 0 ? page[^1].Id : null);
    }
}
