using System.Globalization;

namespace Qlaw.Bench.Measure;

/// <summary>
/// The processes of the stack whose CPU is measured; Azurite's are its blob, queue and table services in that order when
/// it runs one process per service (<c>LocalAzurite.ProcessIds</c>).
/// </summary>
internal sealed record StackProcesses(int Server, int Postgres, IReadOnlyList<int> Azurite)
{
    public static int Bench => Environment.ProcessId;
}

/// <summary>
/// CPU used over a window, in percent of one core (200 % is both cores of a 2-core machine); Azurite's also per process
/// (<paramref name="AzuriteProcesses"/>, in <see cref="StackProcesses.Azurite"/>'s order).
/// </summary>
internal sealed record CpuUsage(double Seconds, double Server, double Postgres, double Azurite, double Bench, IReadOnlyList<double> AzuriteProcesses)
{
    private static readonly string[] Services = ["blob", "queue", "table"];

    public double Total => Server + Postgres + Azurite + Bench;

    /// <summary>CPU seconds the whole stack used over the window.</summary>
    public double StackSeconds => Total / 100 * Seconds;

    /// <summary>CPU milliseconds per unit of work (a step, a hop) of a share given in percent of one core.</summary>
    public double MillisecondsPer(double percent, long units) => percent / 100 * Seconds * 1000 / units;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"server {Server:0}%, PostgreSQL {Postgres:0}%, Azurite {Azurite:0}%{ByService()}, bench clients {Bench:0}%");

    private string ByService() => AzuriteProcesses.Count == Services.Length
        ? string.Create(CultureInfo.InvariantCulture, $" ({string.Join(", ", Services.Select((service, i) => $"{service} {AzuriteProcesses[i]:0}"))})")
        : string.Empty;
}

/// <summary>Measures the CPU each process of the stack uses between <see cref="Start"/> and <see cref="Stop"/>.</summary>
internal sealed class CpuWindow
{
    private readonly StackProcesses _processes;
    private readonly long _startedAt;
    private readonly double[] _start;

    private CpuWindow(StackProcesses processes)
    {
        _processes = processes;
        _start = Sample(processes);
        _startedAt = BenchClock.Now;
    }

    public static CpuWindow Start(StackProcesses processes) => new(processes);

    /// <summary>Waits (at most <paramref name="limit"/>) until the process uses under 5 % of a core: left-over work has drained.</summary>
    public static async Task WaitUntilIdleAsync(int pid, TimeSpan limit, CancellationToken cancellationToken)
    {
        var deadline = BenchClock.Now + (long)(limit.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        while (BenchClock.Now < deadline)
        {
            var before = ProcessStats.CpuSeconds(pid);
            await Task.Delay(500, cancellationToken);
            if ((ProcessStats.CpuSeconds(pid) - before) / 0.5 < 0.05)
            {
                return;
            }
        }
    }

    public CpuUsage Stop()
    {
        var end = Sample(_processes);
        var seconds = BenchClock.Milliseconds(_startedAt, BenchClock.Now) / 1000;
        double Percent(int i) => Math.Max(0, end[i] - _start[i]) / seconds * 100;
        var azurite = Enumerable.Range(3, _processes.Azurite.Count).Select(Percent).ToList();
        return new CpuUsage(seconds, Percent(0), Percent(1), azurite.Sum(), Percent(2), azurite);
    }

    // The server, PostgreSQL, the bench, then each of Azurite's processes.
    private static double[] Sample(StackProcesses p) =>
    [
        ProcessStats.CpuSeconds(p.Server),
        ProcessStats.CpuSeconds(p.Postgres, withChildren: true),
        ProcessStats.CpuSeconds(StackProcesses.Bench),
        .. p.Azurite.Select(pid => ProcessStats.CpuSeconds(pid)),
    ];
}
