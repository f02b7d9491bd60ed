using Qlaw.Contracts.Runs;

namespace Qlaw.Core.Caching;

/// <summary>
/// Snapshots of runs that can no longer change, kept outside PostgreSQL. A cache never fails a request: when it cannot
/// answer it misses, and PostgreSQL answers.
/// </summary>
public interface IRunStatusCache
{
    /// <summary>The cached snapshot of the run, or null (not cached, or the cache is unavailable).</summary>
    Task<RunStatusResponse?> GetAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>Keeps a final snapshot; the caller guarantees it will not change.</summary>
    Task SetAsync(RunStatusResponse status, CancellationToken cancellationToken);
}

/// <summary>No cache (no Redis configured): every snapshot comes from PostgreSQL.</summary>
internal sealed class NoRunStatusCache : IRunStatusCache
{
    public Task<RunStatusResponse?> GetAsync(Guid runId, CancellationToken cancellationToken) => Task.FromResult<RunStatusResponse?>(null);

    public Task SetAsync(RunStatusResponse status, CancellationToken cancellationToken) => Task.CompletedTask;
}
