using System.Diagnostics;

namespace Qlaw.Bench.Measure;

/// <summary>
/// One monotonic clock for every measurement, convertible to wall-clock UTC so that client receipt times compare with
/// the commit timestamps PostgreSQL records (same machine, same clock).
/// </summary>
internal static class BenchClock
{
    private static readonly long StartTimestamp = Stopwatch.GetTimestamp();
    private static readonly DateTime StartUtc = DateTime.UtcNow;

    public static long Now => Stopwatch.GetTimestamp();

    public static DateTime ToUtc(long timestamp) => StartUtc + Stopwatch.GetElapsedTime(StartTimestamp, timestamp);

    public static double Milliseconds(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;
}
