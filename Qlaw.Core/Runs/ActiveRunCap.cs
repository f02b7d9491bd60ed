using Microsoft.EntityFrameworkCore;
using Qlaw.Contracts;
using Qlaw.Core.Limits;
using Qlaw.Data;

namespace Qlaw.Core.Runs;

/// <summary>
/// The caps on active runs (queued, running, awaiting input): server-wide and per client address. Counted in
/// PostgreSQL at each start, so every instance of either host shares them; concurrent starts can pass together.
/// </summary>
internal static class ActiveRunCap
{
    private static readonly RunStatus[] Active = [RunStatus.Queued, RunStatus.Running, RunStatus.AwaitingInput];

    /// <summary>The refusal when a new run of <paramref name="client"/> would exceed a cap, else null.</summary>
    public static async Task<RunCommandResult.Busy?> FindAsync(QlawDbContext db, string? client, LimitsOptions limits, CancellationToken cancellationToken)
    {
        var retryAfter = TimeSpan.FromSeconds(limits.ActiveRunsRetryAfterSeconds);
        if (client is not null && await CountAsync(db.Runs.Where(r => r.Client == client), limits.MaxActiveRunsPerClient, cancellationToken) >= limits.MaxActiveRunsPerClient)
        {
            return new RunCommandResult.Busy($"This client has {limits.MaxActiveRunsPerClient} active runs, the most allowed (Limits:MaxActiveRunsPerClient).", retryAfter);
        }

        return await CountAsync(db.Runs, limits.MaxActiveRuns, cancellationToken) >= limits.MaxActiveRuns
            ? new RunCommandResult.Busy($"The server has {limits.MaxActiveRuns} active runs, the most allowed (Limits:MaxActiveRuns).", retryAfter)
            : null;
    }

    // Counts no further than the cap: the answer is only ever compared with it.
    private static Task<int> CountAsync(IQueryable<Data.Runs.RunEntity> runs, int cap, CancellationToken cancellationToken) =>
        runs.Where(r => Active.Contains(r.Status)).Take(cap).CountAsync(cancellationToken);
}
