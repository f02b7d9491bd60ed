using Qlaw.Bench.Clients;
using Qlaw.Bench.Report;
using Qlaw.Bench.Stack;
using static Qlaw.Bench.Report.ReportSection;

namespace Qlaw.Bench.Scenarios;

/// <summary>Sustained text deltas per second: one run, then many at once, each token its own committed row.</summary>
internal static class WritePath
{
    public const int Words = 2000;

    public static async Task<ReportSection> RunAsync(BenchStack stack, BenchServer server, BenchScale scale, CancellationToken cancellationToken)
    {
        var workflow = BenchWorkflows.StreamName(Words);
        await new QlawApi(server.Http).CreateWorkflowAsync(BenchWorkflows.Stream(Words), cancellationToken);
        var results = new List<StreamLoadResult>();
        foreach (var runs in new[] { 1, scale.WriteRuns })
        {
            results.Add(await StreamLoad.MeasureAsync(stack, server, workflow, runs, 1, scale.Window, 0, cancellationToken));
            await StreamLoad.SettleAsync(cancellationToken);
        }

        return new ReportSection(
            "Write path",
            $"The streaming workflow at zero token delay with `Streaming:DeltaWindowMs=0`, so every token is one `run_events` row, " +
            $"committed and `NOTIFY`ed on its own ({Words} tokens a turn); one client follows each run. Counted over a " +
            $"{scale.Window.TotalSeconds:0} s window: delta rows committed, and delivered to the clients.")
            .Table(
                ["runs", "deltas/s committed", "per run", "events/s delivered", "missed", "lag p50 ms", "p99 ms", "CPU"],
                results.Select(r => new[]
                {
                    r.Runs.ToString(), Number(r.DeltasInWindow / r.WindowSeconds, "0"), Number(r.DeltasInWindow / r.WindowSeconds / r.Runs, "0"),
                    Number(r.FramesInWindow / r.WindowSeconds, "0"), r.Missing.ToString(), Ms(r.Lag.P50), Ms(r.Lag.P99), r.Cpu.ToString(),
                }));
    }
}
