using System.Threading.RateLimiting;

namespace Qlaw.Core.Agents;

/// <summary>
/// What stands between a turn and its endpoint, shared by every run on this server: a cap on calls at once (a turn
/// beyond it waits its turn, oldest first) and a hold — a time before which no new call is made — set by a provider's
/// <c>retry-after</c> and by its rate-limit headers running out (<see cref="RateLimitHeaders"/>), so that one 429
/// slows every run on the endpoint down instead of each finding the quota full on its own.
/// </summary>
/// <remarks>
/// A changed <c>MaxConcurrentCalls</c> gives the gate a new limiter; calls holding a place in the old one give it back
/// there, so for a moment both count.
/// </remarks>
public sealed class EndpointGate(TimeProvider clock)
{
    private readonly Lock _lock = new();
    private ConcurrencyLimiter _slots = Limiter(ModelCallOptions.DefaultMaxConcurrentCalls);
    private int _limit = ModelCallOptions.DefaultMaxConcurrentCalls;
    private long _holdUntil;
    private int _inFlight;

    /// <summary>Calls made and not yet done.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Applies <paramref name="limit"/> calls at once from now on.</summary>
    public void Resize(int limit)
    {
        lock (_lock)
        {
            if (limit != _limit)
            {
                (_slots, _limit) = (Limiter(limit), limit);
            }
        }
    }

    /// <summary>A place for one call at once, or null when all are taken (then <see cref="EnterAsync"/> queues for one).</summary>
    public IDisposable? TryEnter()
    {
        var lease = _slots.AttemptAcquire();
        return lease.IsAcquired ? new Place(this, lease) : Refused(lease);
    }

    /// <summary>Waits for a place for one call, behind the turns that waited first.</summary>
    public async Task<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        var lease = await _slots.AcquireAsync(1, cancellationToken);
        return lease.IsAcquired ? new Place(this, lease) : throw new InvalidOperationException("The endpoint's queue refused a turn.");
    }

    /// <summary>How long until new calls may go (zero when they may now).</summary>
    public TimeSpan HeldFor
    {
        get
        {
            var left = Interlocked.Read(ref _holdUntil) - clock.GetTimestamp();
            return left <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)left / clock.TimestampFrequency);
        }
    }

    /// <summary>No new call goes for <paramref name="wait"/> from now (a longer hold already set stays).</summary>
    public void Hold(TimeSpan wait)
    {
        var until = clock.GetTimestamp() + (long)(wait.TotalSeconds * clock.TimestampFrequency);
        var current = Interlocked.Read(ref _holdUntil);
        while (until > current)
        {
            var seen = Interlocked.CompareExchange(ref _holdUntil, until, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private static ConcurrencyLimiter Limiter(int limit) => new(new ConcurrencyLimiterOptions
    {
        PermitLimit = limit,
        QueueLimit = int.MaxValue,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
    });

    private static IDisposable? Refused(RateLimitLease lease)
    {
        lease.Dispose();
        return null;
    }

    private sealed class Place : IDisposable
    {
        private readonly EndpointGate _gate;
        private RateLimitLease? _lease;

        public Place(EndpointGate gate, RateLimitLease lease)
        {
            (_gate, _lease) = (gate, lease);
            Interlocked.Increment(ref gate._inFlight);
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _lease, null) is { } lease)
            {
                Interlocked.Decrement(ref _gate._inFlight);
                lease.Dispose();
            }
        }
    }
}
