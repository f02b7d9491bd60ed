using Qlaw.Bench.Clients;
using Qlaw.Bench.Measure;
using Qlaw.Bench.Report;
using Qlaw.Bench.Stack;
using static Qlaw.Bench.Report.ReportSection;

namespace Qlaw.Bench.Scenarios;

/// <summary>Many clients on one streaming run, and many runs with two clients each: delivery lag, memory and CPU.</summary>
internal static class SseFanOut
{
    public const int Words = 100;

    public static async Task<ReportSection> RunAsync(BenchStack stack, BenchServer server, BenchScale scale, CancellationToken cancellationToken)
    {
        var workflow = BenchWorkflows.StreamName(Words);
        await new QlawApi(server.Http).CreateWorkflowAsync(BenchWorkflows.Stream(Words), cancellationToken);
        var cases = scale.FanOutClients.Select(n => (Runs: 1, PerRun: n)).Append((Runs: scale.ManyRuns, PerRun: scale.ClientsPerRun)).ToList();
        // A small untimed round first, so that start-up and JIT are in the baseline; every case is measured against the
        // RSS after it, which makes the figure per client an upper bound (the heap grown by earlier cases counts too).
        await StreamLoad.MeasureAsync(stack, server, workflow, 1, 20, TimeSpan.FromSeconds(1), 0, cancellationToken);
        await StreamLoad.SettleAsync(cancellationToken);
        var baselineRss = ProcessStats.RssBytes(server.ProcessId);
        var results = new List<StreamLoadResult>();
        foreach (var (runs, perRun) in cases)
        {
            results.Add(await StreamLoad.MeasureAsync(stack, server, workflow, runs, perRun, scale.Window, baselineRss, cancellationToken));
            await StreamLoad.SettleAsync(cancellationToken);
        }

        var section = new ReportSection(
            "SSE fan-out",
            $"A workflow whose two scripted agents stream {Words} words a turn at one token per {server.Profile.TokenDelayMs} ms (about " +
            $"{1000 / server.Profile.TokenDelayMs} tokens/s, deltas batched by the default 15 ms window) and hand the run back and forth. The clients join " +
            $"live (`?starting_after=` the latest event), at most 100 connecting at a time; once all are connected, every event committed during a " +
            $"{scale.Window.TotalSeconds:0} s window is checked at every client. Lag = client receipt − the event's commit timestamp " +
            "(`pg_xact_commit_timestamp`). RSS per client = (server RSS peak in the window − server RSS after a 20-client warm-up round) / clients, an upper bound " +
            "since the heap grown by earlier cases is counted again. " +
            "The clients run in the bench process on the same cores.")
            .Table(
                ["clients", "connect s", "events in window", "frames delivered", "missed", "lag p50 ms", "p99 ms", "max ms", "RSS per client KiB", "server RSS MiB", "CPU"],
                results.Select(r => new[]
                {
                    (r.Runs == 1 ? $"{r.Clients} on 1 run" : $"{r.Runs} runs × {r.Clients / r.Runs}") + (r.Connected < r.Clients ? $" ({r.Connected} connected)" : ""),
                    Number(r.ConnectSeconds), r.EventsInWindow.ToString(), r.FramesInWindow.ToString(), r.Missing.ToString(),
                    Ms(r.Lag.P50), Ms(r.Lag.P99), Ms(r.Lag.Max), Number(r.RssPerClientKiB, "0"), Number(r.PeakRss / 1024.0 / 1024, "0"), r.Cpu.ToString(),
                }));
        if (results.FirstOrDefault(r => r.Runs == 1 && r.Clients == 2000) is { } largest)
        {
            section.Goal("2,000 SSE clients: p99 lag ≤ 100 ms", $"{Ms(largest.Lag.P99)} ms", largest.Lag.P99 <= 100)
                .Goal("2,000 SSE clients: ≤ 64 KiB per client", $"{Number(largest.RssPerClientKiB, "0")} KiB", largest.RssPerClientKiB <= 64);
        }

        return section;
    }
}
