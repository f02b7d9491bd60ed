using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Qlaw.Api.Http;
using Qlaw.Core.Caching;
using StackExchange.Redis;

namespace Qlaw.Api.Streaming;

/// <summary>
/// Open SSE streams: at most <c>RateLimits:MaxOpenStreams</c> on this instance (kept below what it can serve at once),
/// and at most <c>RateLimits:MaxOpenStreamsPerClient</c> per client — across the service when Redis is configured
/// (a sorted set per client of the streams open, each refreshed every 20 s by its instance and dropped after 60 s
/// without, so that a killed instance's streams free their places), on this instance alone otherwise, or while Redis
/// cannot be reached.
/// </summary>
/// <remarks>
/// RedisRateLimiting's concurrency limiter forgets a lease after 60 s, which suits a request and not a stream that
/// lasts an hour: streams renew their place here instead.
/// </remarks>
public sealed partial class StreamSlots(RateLimitSettings settings, RedisConnection redis, TimeProvider clock, ILogger<StreamSlots> logger) : BackgroundService
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Refresh = TimeSpan.FromSeconds(20);

    private static readonly LuaScript Take = LuaScript.Prepare(
        """
        redis.call('ZREMRANGEBYSCORE', @key, '-inf', @now - @lifetime)
        if redis.call('ZCARD', @key) < tonumber(@limit) then
          redis.call('ZADD', @key, @now, @member)
          redis.call('PEXPIRE', @key, @lifetime)
          return 1
        end
        return 0
        """);

    private readonly ConcurrentDictionary<string, int> _local = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Slot, byte> _shared = new();
    private readonly string _instance = Guid.NewGuid().ToString("N");
    private int _open;

    /// <summary>The answer to a client over its stream cap: 429 problem+json with <c>Retry-After</c>.</summary>
    public static IResult TooMany { get; } = new TooManyRequestsResult(TimeSpan.FromSeconds(5), "Too many open streams from this client.");

    /// <summary>The answer when this instance holds <c>RateLimits:MaxOpenStreams</c> streams.</summary>
    public static IResult ServerFull { get; } = new TooManyRequestsResult(TimeSpan.FromSeconds(5), "This server holds as many open streams as it serves.");

    /// <summary>Streams through <paramref name="stream"/> when the client has a free place, else answers 429.</summary>
    public static async Task<IResult> OpenAsync(HttpContext context, Func<IDisposable, IResult> stream) =>
        await context.RequestServices.GetRequiredService<StreamSlots>().TryOpenAsync(context) is var (slot, refusal) && slot is not null ? stream(slot) : refusal!;

    /// <summary>Reserves a place before work that may end in a stream; disposing releases it unless taken.</summary>
    public static async Task<StreamReservation> ReserveAsync(HttpContext context, bool wanted)
    {
        if (!wanted)
        {
            return new(false, null, null);
        }

        var (slot, refusal) = await context.RequestServices.GetRequiredService<StreamSlots>().TryOpenAsync(context);
        return new(true, slot, refusal);
    }

    /// <summary>A place for one more stream of this request's client, or the refusal when it, or this instance, holds the most allowed.</summary>
    public async Task<(IDisposable? Slot, IResult? Refusal)> TryOpenAsync(HttpContext context)
    {
        var options = settings.Current.Options;
        if (!options.Enabled)
        {
            return (new Slot(null, null, null), null);
        }

        if (Interlocked.Increment(ref _open) > options.MaxOpenStreams)
        {
            Interlocked.Decrement(ref _open);
            return (null, ServerFull);
        }

        var client = RateLimiting.ClientOf(context);
        var slot = redis.Configured && await TakeSharedAsync(client, options.MaxOpenStreamsPerClient) is { } shared
            ? (ReferenceEquals(shared, Slot.Refused) ? null : shared)
            : TakeLocal(client, options.MaxOpenStreamsPerClient);
        if (slot is null)
        {
            Interlocked.Decrement(ref _open);
            return (null, TooMany);
        }

        return (slot, null);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Refresh, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (_shared.IsEmpty)
            {
                continue;
            }

            try
            {
                var batch = redis.Multiplexer.GetDatabase().CreateBatch();
                var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
                var writes = _shared.Keys.Select(s => batch.SortedSetAddAsync(s.Key!, s.Member!, now, SortedSetWhen.Exists)).ToList();
                batch.Execute();
                await Task.WhenAll(writes);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LogRefreshFailed(logger, ex);
            }
        }
    }

    // The client's place in the service-wide set, or null when Redis cannot be reached (the caller counts locally).
    // A refusal is a slot-less answer, told apart by Refused.
    private async Task<Slot?> TakeSharedAsync(string client, int limit)
    {
        var key = $"{redis.Options.KeyPrefix}streams:{client}";
        var member = $"{_instance}:{Guid.NewGuid():N}";
        try
        {
            var taken = (int)await redis.Multiplexer.GetDatabase().ScriptEvaluateAsync(Take, new
            {
                key = (RedisKey)key,
                now = clock.GetUtcNow().ToUnixTimeMilliseconds(),
                lifetime = (long)Lifetime.TotalMilliseconds,
                limit,
                member,
            });
            if (taken == 0)
            {
                return Slot.Refused;
            }

            var slot = new Slot(this, key, member);
            _shared[slot] = 0;
            return slot;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogSharedUnavailable(logger, ex);
            return null;
        }
    }

    private Slot? TakeLocal(string client, int limit)
    {
        while (true)
        {
            var open = _local.GetOrAdd(client, 0);
            if (open >= limit)
            {
                return null;
            }

            if (_local.TryUpdate(client, open + 1, open))
            {
                return new Slot(this, null, client);
            }
        }
    }

    private void Close(Slot slot)
    {
        Interlocked.Decrement(ref _open);
        if (slot.Key is { } key)
        {
            _shared.TryRemove(slot, out _);
            try
            {
                redis.Multiplexer.GetDatabase().SortedSetRemove(key, slot.Member, CommandFlags.FireAndForget);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // The place expires by itself once it is no longer refreshed.
            }
        }
        else if (slot.Member is { } client)
        {
            while (true)
            {
                var open = _local[client];
                if (open == 1 ? _local.TryRemove(new KeyValuePair<string, int>(client, 1)) : _local.TryUpdate(client, open - 1, open))
                {
                    return;
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is out of reach: stream caps are counted on this instance alone until it is back")]
    private static partial void LogSharedUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not refresh this instance's open streams in Redis; they expire unless a later refresh succeeds")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);

    /// <summary>One open stream's place: in Redis (<see cref="Key"/>, <see cref="Member"/>), or local (<see cref="Member"/> = the client).</summary>
    private sealed class Slot(StreamSlots? owner, string? key, string? member) : IDisposable
    {
        private int _closed;

        /// <summary>The answer of a full shared set: no place, and no local fallback either.</summary>
        public static Slot Refused { get; } = new(null, null, null);

        public string? Key => key;

        public string? Member => member;

        public void Dispose()
        {
            if (owner is not null && Interlocked.Exchange(ref _closed, 1) == 0)
            {
                owner.Close(this);
            }
        }
    }
}

/// <summary>A stream place held while a request decides whether it streams.</summary>
public sealed class StreamReservation(bool wanted, IDisposable? slot, IResult? refusal) : IDisposable
{
    private IDisposable? _slot = slot;

    /// <summary>Whether the client asked for a stream.</summary>
    public bool Wanted => wanted;

    /// <summary>Whether a stream was wanted and the client (or this instance) is over its cap.</summary>
    public bool Refused => wanted && _slot is null;

    /// <summary>The answer to a refused stream.</summary>
    public IResult Refusal => refusal ?? StreamSlots.TooMany;

    /// <summary>Hands the place to the stream, which releases it when it ends.</summary>
    public IDisposable? Take() => Interlocked.Exchange(ref _slot, null);

    public void Dispose() => Take()?.Dispose();
}
