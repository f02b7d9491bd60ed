using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Options;
using Qlaw.Contracts.Runs;

namespace Qlaw.Core.Caching;

/// <summary>
/// Snapshots of runs that can no longer change, kept outside PostgreSQL. A cache never fails a request: when it cannot
/// answer it misses, and PostgreSQL answers.
/// </summary>
public interface IRunStatusCache
{
    /// <summary>The cached snapshot of the run, or null (not cached, or the cache is unavailable).</summary>
    ValueTask<RunStatusResponse?> GetAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>Keeps a final snapshot; the caller guarantees it will not change.</summary>
    ValueTask SetAsync(RunStatusResponse status, CancellationToken cancellationToken);
}

/// <summary>
/// Run status snapshots in HybridCache's distributed level, Redis, when <c>ConnectionStrings:Redis</c> is set; none
/// otherwise. HybridCache answers a failed Redis read as a miss and a failed write as nothing kept, and logs both.
/// </summary>
internal sealed class RunStatusCache(HybridCache cache, RedisConnection redis, IOptions<RedisOptions> options) : IRunStatusCache
{
    // Bump when RunStatusResponse changes shape, so that a deployment never reads the previous one's snapshots.
    private const string KeyVersion = "v1";

    // Redis alone, as before HybridCache: an in-process level would be a second copy of every ended run read.
    private static readonly HybridCacheEntryOptions Read = new() { Flags = HybridCacheEntryFlags.DisableLocalCache | HybridCacheEntryFlags.DisableDistributedCacheWrite };
    private readonly HybridCacheEntryOptions _write = new()
    {
        Expiration = TimeSpan.FromSeconds(options.Value.SnapshotTtlSeconds),
        Flags = HybridCacheEntryFlags.DisableLocalCache,
    };

    /// <summary>The key of a run's snapshot, under <c>Redis:KeyPrefix</c>.</summary>
    public static string Key(Guid runId) => $"run-status:{KeyVersion}:{runId:N}";

    public async ValueTask<RunStatusResponse?> GetAsync(Guid runId, CancellationToken cancellationToken) => redis.Configured
        ? await cache.GetOrCreateAsync(Key(runId), static _ => ValueTask.FromResult<RunStatusResponse?>(null), Read, cancellationToken: cancellationToken)
        : null;

    public ValueTask SetAsync(RunStatusResponse status, CancellationToken cancellationToken) => redis.Configured
        ? cache.SetAsync(Key(status.Id), status, _write, cancellationToken: cancellationToken)
        : ValueTask.CompletedTask;
}
