using Microsoft.EntityFrameworkCore;
using Qlaw.Contracts;
using Qlaw.Core.Limits;
using Qlaw.Data;

namespace Qlaw.Core.Runs;

/// <summary>
/// The caps on active runs (queued, running, awaiting input, and dead-lettered: failed but waiting for
/// <c>continue</c> until abandoned): server-wide and per client address. Counted in PostgreSQL at each start, so every
/// instance of either host shares them; concurrent starts can pass together.
/// </summary>
internal static class ActiveRunCap
{
    private static readonly string[] ActiveNames = [.. new[] { RunStatus.Queued, RunStatus.Running, RunStatus.AwaitingInput }.Select(s => QlawJson.EnumName(s))];
    private static readonly string Failed = QlawJson.EnumName(RunStatus.Failed);

    /// <summary>The refusal when a new run of <paramref name="client"/> would exceed a cap, else null.</summary>
    public static async Task<RunCommandResult.Busy?> FindAsync(QlawDbContext db, string? client, LimitsOptions limits, CancellationToken cancellationToken)
    {
        // Both counts in one statement, each counting no further than its cap: the answer is only ever compared with it.
        var (perClient, all) = (limits.MaxActiveRunsPerClient, limits.MaxActiveRuns);
        var counts = await db.Database.SqlQuery<ActiveCounts>(
            $"""
            SELECT (SELECT count(*) FROM (SELECT 1 FROM runs WHERE client = {client} AND (status = ANY({ActiveNames}) OR (status = {Failed} AND completed_at IS NULL)) LIMIT {perClient}) AS c)::int AS of_client,
                   (SELECT count(*) FROM (SELECT 1 FROM runs WHERE (status = ANY({ActiveNames}) OR (status = {Failed} AND completed_at IS NULL)) LIMIT {all}) AS a)::int AS of_server
            """).SingleAsync(cancellationToken);
        var retryAfter = TimeSpan.FromSeconds(limits.ActiveRunsRetryAfterSeconds);
        if (client is not null && counts.OfClient >= perClient)
        {
            return new RunCommandResult.Busy($"This client has {perClient} active runs, the most allowed (Limits:MaxActiveRunsPerClient).", retryAfter);
        }

        return counts.OfServer >= all
            ? new RunCommandResult.Busy($"The server has {all} active runs, the most allowed (Limits:MaxActiveRuns).", retryAfter)
            : null;
    }

    // Columns named as the context's snake-case convention expects.
    private sealed record ActiveCounts(int OfClient, int OfServer);
}
