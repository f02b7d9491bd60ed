using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Qlaw.Api.Http;

/// <summary>
/// Rate limiting per client address with ASP.NET Core's limiter: token buckets for run creation and for other
/// requests, and a cap on open streams. Edited limits apply at once (limiters are keyed by the settings' generation).
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
        services.AddRateLimiter(options =>
        {
            options.AddPolicy(RunCreation, context => Partition(context, s => s.RunCreation));
            options.AddPolicy(Requests, context => Partition(context, s => s.Requests));
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
    public static RateLimitPartition<string> PartitionFor(HttpContext context, string policy) =>
        Partition(context, policy == RunCreation ? s => s.RunCreation : s => s.Requests);

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

    /// <summary>The client a request is counted against: its remote address.</summary>
    public static string ClientOf(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    private static RateLimitPartition<string> Partition(HttpContext context, Func<RateLimitOptions, TokenBucketSettings> bucket)
    {
        var settings = context.RequestServices.GetRequiredService<RateLimitSettings>();
        var (current, generation) = settings.Current;
        if (!current.Enabled)
        {
            return RateLimitPartition.GetNoLimiter("off");
        }

        var limits = bucket(current);
        return RateLimitPartition.GetTokenBucketLimiter($"{generation}|{ClientOf(context)}", _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = limits.Burst,
            TokensPerPeriod = limits.PermitsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
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
        using var lease = (policy == RateLimiting.RunCreation ? _runCreation : _requests).AttemptAcquire(context);
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

/// <summary>Counts open SSE streams per client and refuses one over the cap.</summary>
public sealed class StreamSlots
{
    private readonly ConcurrentDictionary<string, int> _open = new(StringComparer.Ordinal);

    public StreamSlots(RateLimitSettings settings) => Settings = settings;

    private RateLimitSettings Settings { get; }

    /// <summary>A slot for one more stream of this request's client, or null when it holds the most allowed.</summary>
    public IDisposable? TryOpen(HttpContext context)
    {
        var options = Settings.Current.Options;
        var client = RateLimiting.ClientOf(context);
        var limit = options.Enabled ? options.MaxOpenStreamsPerClient : int.MaxValue;
        while (true)
        {
            var open = _open.GetOrAdd(client, 0);
            if (open >= limit)
            {
                return null;
            }

            if (_open.TryUpdate(client, open + 1, open))
            {
                return new Slot(this, client);
            }
        }
    }

    /// <summary>The answer to a client over its stream cap: 429 problem+json with <c>Retry-After</c>.</summary>
    public static IResult TooMany { get; } = new TooManyRequestsResult(TimeSpan.FromSeconds(5), "Too many open streams from this client.");

    /// <summary>Streams through <paramref name="stream"/> when the client has a free slot, else answers 429.</summary>
    public static IResult Open(HttpContext context, Func<IDisposable, IResult> stream) =>
        context.RequestServices.GetRequiredService<StreamSlots>().TryOpen(context) is { } slot ? stream(slot) : TooMany;

    /// <summary>Reserves a slot before work that may end in a stream; disposing releases it unless taken.</summary>
    public static StreamReservation Reserve(HttpContext context, bool wanted) =>
        new(wanted, wanted ? context.RequestServices.GetRequiredService<StreamSlots>().TryOpen(context) : null);

    private void Close(string client)
    {
        while (true)
        {
            var open = _open[client];
            if (open == 1 ? _open.TryRemove(new KeyValuePair<string, int>(client, 1)) : _open.TryUpdate(client, open - 1, open))
            {
                return;
            }
        }
    }

    private sealed class Slot(StreamSlots owner, string client) : IDisposable
    {
        private int _closed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                owner.Close(client);
            }
        }
    }
}

/// <summary>A stream slot held while a request decides whether it streams.</summary>
public sealed class StreamReservation(bool wanted, IDisposable? slot) : IDisposable
{
    private IDisposable? _slot = slot;

    /// <summary>Whether the client asked for a stream.</summary>
    public bool Wanted => wanted;

    /// <summary>Whether a stream was wanted and the client is over its cap.</summary>
    public bool Refused => wanted && _slot is null;

    /// <summary>Hands the slot to the stream, which releases it when it ends.</summary>
    public IDisposable? Take() => Interlocked.Exchange(ref _slot, null);

    public void Dispose() => Take()?.Dispose();
}

/// <summary>429 problem+json with <c>Retry-After</c>.</summary>
public sealed class TooManyRequestsResult(TimeSpan retryAfter, string title) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext) => RateLimiting.WriteTooManyAsync(httpContext, retryAfter, title);
}
