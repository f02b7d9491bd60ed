using System.Threading.RateLimiting;
using StackExchange.Redis;

namespace Qlaw.Api.Http;

/// <summary>
/// A limit the service's instances share (<paramref name="shared"/>, in Redis) that falls back to this instance's own
/// (<paramref name="local"/>) while Redis cannot be reached: a Redis outage never fails a request, it only makes the
/// limit per instance for as long as it lasts (docs/security.md).
/// </summary>
internal sealed class SharedRateLimiter(RateLimiter shared, RateLimiter local) : RateLimiter
{
    public override TimeSpan? IdleDuration => local.IdleDuration;

    public override RateLimiterStatistics? GetStatistics() => local.GetStatistics();

    // The shared limiter answers only asynchronously (a Redis round trip): a synchronous attempt is refused, and ASP.NET
    // Core's middleware (and ApiRateLimiter) then acquires asynchronously.
    protected override RateLimitLease AttemptAcquireCore(int permitCount) => shared.AttemptAcquire(permitCount);

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        try
        {
            return await shared.AcquireAsync(permitCount, cancellationToken);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return await local.AcquireAsync(permitCount, cancellationToken);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            shared.Dispose();
            local.Dispose();
        }

        base.Dispose(disposing);
    }
}
