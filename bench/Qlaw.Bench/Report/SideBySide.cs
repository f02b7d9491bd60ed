using Qlaw.Bench.Measure;
using static Qlaw.Bench.Report.ReportSection;

namespace Qlaw.Bench.Report;

/// <summary>
/// Qlaw, the bare engine and the LangGraph.js peer in one table, filled by the scenarios of one bench run: the
/// sequential latency phases, the 200-runs throughput and what a kill -9 left. A system a scenario did not measure
/// shows dashes.
/// </summary>
internal sealed class SideBySide
{
    private readonly Dictionary<string, Figures> _systems = [];

    public const string Qlaw = "Qlaw";
    public const string BareEngine = "bare engine";
    public const string Peer = "LangGraph.js";

    public void Latency(string system, Distribution? firstEvent, Distribution firstText, Distribution end) =>
        _systems[system] = Of(system) with { FirstEvent = firstEvent, FirstText = firstText, End = end };

    public void Throughput(string system, int completed, int runs, double seconds) =>
        _systems[system] = Of(system) with { Completed = $"{completed}/{runs}", RunsPerSecond = completed / seconds };

    public void AfterKill(string system, string outcome) => _systems[system] = Of(system) with { AfterKill = outcome };

    public ReportSection ToSection(int sequentialRuns, int peerSequentialRuns, int throughputRuns)
    {
        var section = new ReportSection(
            "Side by side: Qlaw, the bare engine and LangGraph.js",
            $"From this bench run: {sequentialRuns} sequential runs of 5 steps each ({peerSequentialRuns} of LangGraph.js; percentiles in ms, from " +
            $"the request that starts a run), {throughputRuns} runs started together, and what a kill -9 of the server mid-run left. Qlaw " +
            "streams Responses events from PostgreSQL; the bare engine has no stream (its columns are the first and the fifth no-op " +
            "activity); LangGraph.js streams `messages-tuple` events of its in-memory dev server.")
            .Table(
                ["", "first event p50", "p95", "p99", "first text p50", "p95", "p99", "stream end p50", "p95", "p99", $"{throughputRuns} together: completed", "runs/s", "after a kill -9"],
                new[] { Qlaw, BareEngine, Peer }.Where(_systems.ContainsKey).Select(s => Row(s, _systems[s])))
            .Note("Qlaw after a kill -9 is measured by the *Crash and restart recovery* and *Chaos* scenarios of a full run; the bare engine is not killed.");
        if (_systems.GetValueOrDefault(Qlaw) is { FirstEvent: { } qe, FirstText: { } qt, End: { } qd } &&
            _systems.GetValueOrDefault(Peer) is { FirstEvent: { } pe, FirstText: { } pt, End: { } pd })
        {
            var ahead = new[] { (qe, pe), (qt, pt), (qd, pd) }.All(p => p.Item1.P50 < p.Item2.P50 && p.Item1.P95 < p.Item2.P95 && p.Item1.P99 < p.Item2.P99);
            section.Goal(
                "Every latency percentile (first event, first text, stream end; p50, p95, p99) ahead of LangGraph.js",
                $"stream end p99 {Ms(qd.P99)} vs {Ms(pd.P99)} ms, first text p99 {Ms(qt.P99)} vs {Ms(pt.P99)} ms", ahead);
        }

        return section;
    }

    private Figures Of(string system) => _systems.GetValueOrDefault(system) ?? new Figures();

    private static string[] Row(string system, Figures f) =>
    [
        system,
        Ms(f.FirstEvent?.P50 ?? double.NaN), Ms(f.FirstEvent?.P95 ?? double.NaN), Ms(f.FirstEvent?.P99 ?? double.NaN),
        Ms(f.FirstText?.P50 ?? double.NaN), Ms(f.FirstText?.P95 ?? double.NaN), Ms(f.FirstText?.P99 ?? double.NaN),
        Ms(f.End?.P50 ?? double.NaN), Ms(f.End?.P95 ?? double.NaN), Ms(f.End?.P99 ?? double.NaN),
        f.Completed ?? "–", Number(f.RunsPerSecond ?? double.NaN), f.AfterKill ?? "–",
    ];

    private sealed record Figures
    {
        public Distribution? FirstEvent { get; init; }

        public Distribution? FirstText { get; init; }

        public Distribution? End { get; init; }

        public string? Completed { get; init; }

        public double? RunsPerSecond { get; init; }

        public string? AfterKill { get; init; }
    }
}
