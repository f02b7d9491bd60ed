using System.Globalization;
using System.Threading.RateLimiting;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Qlaw.Api.Streaming;
using Qlaw.Core.Caching;
using RedisRateLimiting;

namespace Qlaw.Api.Http;

/// <summary>
/// Rate limiting per client with ASP.NET Core's limiter: token buckets for run creation and for other requests.
/// A client is its address, an IPv6 one taken to its /64 (<c>RateLimits:IPv6PrefixLength</c>), so that one host's
/// 2^64 addresses are one client. With Redis configured the buckets are the service's, shared by every instance
/// (RedisRateLimiting's token bucket); while Redis is away, each instance's own. Edited limits apply at once
/// (limiters are keyed by the settings' generation).
/// </summary>
public static class RateLimiting
{
    /// <summary>Policy of the calls that start runs.</summary>
    public const string RunCreation = "run-creation";

    /// <summary>Policy of every other /v1 call.</summary>
    public const string Requests = "requests";

    internal static IServiceCollection AddQlawRateLimiting(this IServiceCollection services)
    {
        services.AddSingleton<RateLimitSettings>();
        services.AddSingleton<StreamSlots>();
        services.AddHostedService(sp => sp.GetRequiredService<StreamSlots>());
        services.AddRateLimiter(options =>
        {
            options.AddPolicy(RunCreation, context => Partition(context, RunCreation));
            options.AddPolicy(Requests, context => Partition(context, Requests));
            options.OnRejected = (context, cancellationToken) => new ValueTask(RejectAsync(context.HttpContext, context.Lease));
        });
        services.AddSingleton<ApiRateLimiter>();
        return services;
    }

    /// <summary>Answers a request its budget refused: 429 problem+json with the lease's <c>Retry-After</c>.</summary>
    public static Task RejectAsync(HttpContext context, RateLimitLease lease) =>
        WriteTooManyAsync(
            context,
            lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1),
            "Too many requests from this client.");

    /// <summary>The partition of a request under <paramref name="policy"/>: the same budgets for every host.</summary>
    public static RateLimitPartition<string> PartitionFor(HttpContext context, string policy) => Partition(context, policy);

    /// <summary>Answers 429 problem+json with <c>Retry-After</c>.</summary>
    public static async Task WriteTooManyAsync(HttpContext context, TimeSpan retryAfter, string title)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await context.RequestServices.GetRequiredService<IProblemDetailsService>().TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = title,
                Detail = $"Retry after {seconds} s.",
            },
        });
    }

    /// <summary>
    /// The client a request is counted against: its remote address (as trusted forwarded headers give it), an IPv6
    /// address cut to its network of <c>RateLimits:IPv6PrefixLength</c> bits (<c>2001:db8:1:2::/64</c>).
    /// </summary>
    public static string ClientOf(HttpContext context)
    {
        if (context.Connection.RemoteIpAddress is not { } address)
        {
            return "unknown";
        }

        address = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        var prefix = context.RequestServices.GetRequiredService<RateLimitSettings>().Current.Options.IPv6PrefixLength;
        return address.AddressFamily != AddressFamily.InterNetworkV6 || prefix == 128
            ? address.ToString()
            : Network(address, prefix);
    }

    private static string Network(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var bit = prefix; bit < bytes.Length * 8; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return $"{new IPAddress(bytes)}/{prefix}";
    }

    private static RateLimitPartition<string> Partition(HttpContext context, string policy)
    {
        var settings = context.RequestServices.GetRequiredService<RateLimitSettings>();
        var (current, generation) = settings.Current;
        if (!current.Enabled)
        {
            return RateLimitPartition.GetNoLimiter("off");
        }

        var limits = policy == RunCreation ? current.RunCreation : current.Requests;
        var local = new TokenBucketRateLimiterOptions
        {
            TokenLimit = limits.Burst,
            TokensPerPeriod = limits.PermitsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        };
        var key = $"{generation}|{ClientOf(context)}";
        var redis = context.RequestServices.GetRequiredService<RedisConnection>();
        if (!redis.Configured)
        {
            return RateLimitPartition.GetTokenBucketLimiter(key, _ => local);
        }

        // The bucket in Redis is named by the limits themselves, so that instances on the same settings share it.
        var shared = $"{redis.Options.KeyPrefix}rate:{policy}:{limits.Burst}:{limits.PermitsPerSecond}:{ClientOf(context)}";
        return RateLimitPartition.Get(key, _ => new SharedRateLimiter(
            new RedisTokenBucketRateLimiter<string>(shared, new RedisTokenBucketRateLimiterOptions
            {
                ConnectionMultiplexerFactory = () => redis.Multiplexer,
                TokenLimit = limits.Burst,
                TokensPerPeriod = limits.PermitsPerSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            }),
            new TokenBucketRateLimiter(local)));
    }
}

/// <summary>
/// The same budgets for hosts without ASP.NET Core's rate-limiting middleware (Qlaw.Functions calls it per trigger).
/// </summary>
public sealed class ApiRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<HttpContext> _runCreation =
        PartitionedRateLimiter.Create<HttpContext, string>(context => RateLimiting.PartitionFor(context, RateLimiting.RunCreation));

    private readonly PartitionedRateLimiter<HttpContext> _requests =
        PartitionedRateLimiter.Create<HttpContext, string>(context => RateLimiting.PartitionFor(context, RateLimiting.Requests));

    /// <summary>Takes a permit of <paramref name="policy"/>'s budget, or answers 429 and returns false.</summary>
    public async Task<bool> TryAcquireAsync(HttpContext context, string policy)
    {
        using var lease = await (policy == RateLimiting.RunCreation ? _runCreation : _requests).AcquireAsync(context, 1, context.RequestAborted);
        if (lease.IsAcquired)
        {
            return true;
        }

        await RateLimiting.RejectAsync(context, lease);
        return false;
    }

    public void Dispose()
    {
        _runCreation.Dispose();
        _requests.Dispose();
    }
}

/// <summary>The live rate-limit settings and a generation number that changes with them.</summary>
public sealed class RateLimitSettings : IDisposable
{
    private readonly IDisposable? _subscription;
    private (RateLimitOptions Options, int Generation) _current;

    public RateLimitSettings(IOptionsMonitor<RateLimitOptions> monitor)
    {
        _current = (monitor.CurrentValue, 0);
        _subscription = monitor.OnChange(options => _current = (options, _current.Generation + 1));
    }

    public (RateLimitOptions Options, int Generation) Current => _current;

    public void Dispose() => _subscription?.Dispose();
}


/// <summary>429 problem+json with <c>Retry-After</c>.</summary>
public sealed class TooManyRequestsResult(TimeSpan retryAfter, string title) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext) => RateLimiting.WriteTooManyAsync(httpContext, retryAfter, title);
}
