using System.Diagnostics;
using System.Globalization;

namespace Qlaw.FakeModel;

/// <summary>What the quota said of one request: whether it may go on, and the headers every answer carries.</summary>
internal sealed record QuotaAnswer(bool Allowed, int Limit, int Remaining, TimeSpan Reset)
{
    /// <summary>OpenAI's rate-limit headers (<c>x-ratelimit-reset-requests</c> in its format: <c>1s</c>, <c>6m0s</c>, <c>120ms</c>).</summary>
    public IEnumerable<KeyValuePair<string, string>> Headers() =>
    [
        new("x-ratelimit-limit-requests", Limit.ToString(CultureInfo.InvariantCulture)),
        new("x-ratelimit-remaining-requests", Remaining.ToString(CultureInfo.InvariantCulture)),
        new("x-ratelimit-reset-requests", Duration(Reset)),
    ];

    internal static string Duration(TimeSpan time)
    {
        if (time < TimeSpan.FromSeconds(1))
        {
            return string.Create(CultureInfo.InvariantCulture, $"{Math.Ceiling(time.TotalMilliseconds):0}ms");
        }

        var minutes = (int)time.TotalMinutes;
        var seconds = (time - TimeSpan.FromMinutes(minutes)).TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        return minutes > 0 ? $"{minutes.ToString(CultureInfo.InvariantCulture)}m{seconds}s" : $"{seconds}s";
    }
}

/// <summary>
/// A provider's request quota: <c>requests</c> per fixed window, the window starting at the first request after the
/// last one ended. A request over it is refused until the window ends; refused requests do not count.
/// </summary>
internal sealed class RequestQuota(int requests, TimeSpan window)
{
    private readonly Lock _lock = new();
    private long _windowStartedAt;
    private int _used;

    public QuotaAnswer Take()
    {
        lock (_lock)
        {
            var now = Stopwatch.GetTimestamp();
            if (_used == 0 || Stopwatch.GetElapsedTime(_windowStartedAt, now) >= window)
            {
                (_windowStartedAt, _used) = (now, 0);
            }

            var reset = window - Stopwatch.GetElapsedTime(_windowStartedAt, now);
            var allowed = _used < requests;
            _used += allowed ? 1 : 0;
            return new QuotaAnswer(allowed, requests, requests - _used, reset);
        }
    }
}
