using Npgsql;
using Qlaw.Bench.Clients;
using Qlaw.Bench.Engine;
using Qlaw.Bench.Measure;
using Qlaw.Bench.Report;
using Qlaw.Bench.Stack;
using static Qlaw.Bench.Report.ReportSection;

namespace Qlaw.Bench.Scenarios;

/// <summary>
/// POST a run of the 4-agent sample (code-review: 5 agent turns), open its SSE stream at once, and time the first
/// text delta and the end of the stream; sequentially and with 8 and 32 clients at a time. The bare engine runs a
/// chain of as many no-op activities at the same concurrency.
/// </summary>
internal static class RunLatency
{
    public const string Workflow = "code-review";
    public const int AgentSteps = 5;

    // Longer than the reconciler's default stale time (Recovery:StaleAfterSeconds, 120 s): a run the hub lost is
    // re-driven and ends, and shows as the slowest run, instead of stopping the whole bench.
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(180);

    public static async Task<ReportSection> RunAsync(NpgsqlDataSource database, BenchServer server, BareEngine engine, BenchScale scale, SideBySide comparison, CancellationToken cancellationToken)
    {
        var api = new QlawApi(server.Http);
        for (var i = 0; i < scale.WarmupRuns; i++)
        {
            await OneRunAsync(api, cancellationToken);
            await engine.RunAsync(AgentSteps, cancellationToken);
        }

        // The optimizing compilations the warm-up queued run in the background: let them finish before timing.
        await CpuWindow.WaitUntilIdleAsync(server.ProcessId, TimeSpan.FromSeconds(30), cancellationToken);

        var rows = new List<string[]>();
        (Distribution First, Distribution Done, Distribution BareFirst, Distribution BareDone)? sequential = null;
        RunPhases? phases = null;
        var slowestTogether = new List<(string Label, RunPhase Phase)>();
        foreach (var (concurrency, runs) in scale.LatencyLevels)
        {
            var (qlaw, qlawSeconds) = await ClosedLoop.RunAsync(concurrency, runs, ct => OneRunAsync(api, ct), cancellationToken);
            var (bare, bareSeconds) = await ClosedLoop.RunAsync(concurrency, runs, ct => engine.RunAsync(AgentSteps, ct), cancellationToken);
            var first = new Distribution(qlaw.Select(r => BenchClock.Milliseconds(r.PostedAt, r.FirstDeltaAt)));
            var done = new Distribution(qlaw.Select(r => BenchClock.Milliseconds(r.PostedAt, r.ClosedAt)));
            var bareFirst = new Distribution(bare.Select(b => BenchClock.Milliseconds(b.StartedAt, b.FirstActivityAt)));
            var bareDone = new Distribution(bare.Select(b => BenchClock.Milliseconds(b.StartedAt, b.LastActivityAt)));
            var label = concurrency == 1 ? "sequential" : $"{concurrency} at a time";
            rows.Add([$"Qlaw, {label}", runs.ToString(), Ms(first.P50), Ms(first.P95), Ms(first.P99), Ms(done.P50), Ms(done.P95), Ms(done.P99), Number(runs / qlawSeconds)]);
            rows.Add([$"bare engine, {label}", runs.ToString(), Ms(bareFirst.P50), Ms(bareFirst.P95), Ms(bareFirst.P99), Ms(bareDone.P50), Ms(bareDone.P95), Ms(bareDone.P99), Number(runs / bareSeconds)]);
            if (concurrency == 1)
            {
                comparison.Latency(SideBySide.Qlaw, new Distribution(qlaw.Select(r => BenchClock.Milliseconds(r.PostedAt, r.FirstEventAt))), first, done);
                comparison.Latency(SideBySide.BareEngine, null, bareFirst, bareDone);
                sequential = (first, done, bareFirst, bareDone);
                phases = await RunPhases.ReadAsync(database, qlaw);
            }
            else
            {
                // Where the tail of runs started together goes: is it the start, a hop, the stream?
                slowestTogether.Add(($"slowest, {label}", (await RunPhases.ReadAsync(database, qlaw)).Slowest));
            }
        }

        var section = new ReportSection(
            "Run latency",
            $"`POST /v1/workflows/{Workflow}/runs`, then `GET /v1/runs/{{id}}/responses` at once, timed from the POST to the first " +
            $"`response.output_text.delta` received and to the end of the stream (`data: [DONE]`, the run completed). {AgentSteps} agent turns, " +
            $"scripted model at zero delay, {scale.WarmupRuns} warm-up runs of each first (then until the server is idle). Bare engine: start of an orchestration → its first no-op activity ran, " +
            $"→ its {AgentSteps}th ran. Milliseconds.")
            .Table(["", "runs", "first delta p50", "p95", "p99", "completed p50", "p95", "p99", "runs/s"], rows);
        if (phases is { } p)
        {
            (string Label, RunPhase Phase)[] named = [("median", p.Median), ("slowest", p.Slowest), .. slowestTogether];
            section.Note("Where a sequential run's time goes (ms; from the rows' timestamps): the median run, and the slowest run by time to its stream's end; then the slowest of the runs started together, by the same measure:")
                .Table(
                    ["", "POST → run row", "→ first turn began", "turn (mean)", "hop between turns (mean)", "last turn → run completed", "→ committed", "→ stream closed"],
                    [.. named.Select(n => (string[])[n.Label, .. Phases(n.Phase)])])
                .Note("The first turn, from its beginning to the client's first delta (ms): until the delta was committed (the attempt's row, the agent, the model's first token, the delta's transaction), and from that commit until the client received it:")
                .Table(
                    ["", "first turn began → first delta committed", "→ received by the client"],
                    [.. named.Select(n => (string[])[n.Label, Ms(n.Phase.FirstDeltaCommitted), Ms(n.Phase.FirstDeltaReceived)])]);
        }

        if (sequential is { } q)
        {
            // One decimal: a goal missed by a fraction of a millisecond must not read as met.
            var (first, done, bareFirst, bareDone) = q;
            section.Goal("First delta p50 ≤ the engine's first activity p50 + 10 ms (sequential)", $"{Number(first.P50)} ms (engine {Number(bareFirst.P50)} ms)", first.P50 <= bareFirst.P50 + 10)
                .Goal("First delta p99 ≤ 3× its p50 (sequential)", $"{Number(first.P99)} ms ({Number(first.P99 / first.P50, "0.0")}×)", first.P99 <= 3 * first.P50)
                .Goal(
                    $"Run completed (stream closed) p50 ≤ 1.5× the engine's {AgentSteps}-activity chain (sequential)",
                    $"{Number(done.P50)} ms ({Number(done.P50 / bareDone.P50, "0.00")}×, engine {Number(bareDone.P50)} ms)", done.P50 <= 1.5 * bareDone.P50);
            if (phases is { } ph)
            {
                section.Goal("Stream closed ≤ 3 ms after the run completed (its transaction committed; sequential p50)", $"{Number(ph.Median.StreamClosed)} ms", ph.Median.StreamClosed <= 3);
            }
        }

        return section;
    }


    private static string[] Phases(RunPhase p) =>
        [Ms(p.Created), Ms(p.FirstTurn), Ms(p.Turn), Ms(p.Hop), Ms(p.Finish), Ms(p.Commit), Ms(p.StreamClosed)];

    private static async Task<ClientRun> OneRunAsync(QlawApi api, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RunTimeout);
        var postedAt = BenchClock.Now;
        var runId = await api.StartRunAsync(Workflow, timeout.Token);
        var stream = await SseReader.ReadAsync(api.Http, $"/v1/runs/{runId}/responses", timeout.Token);

        // The bench was stopped (Ctrl+C, SIGTERM, its hard limit): not a run that failed to end.
        cancellationToken.ThrowIfCancellationRequested();
        if (!stream.SawDone || stream.FirstDeltaAt is not { } firstDelta)
        {
            throw new BenchException(
                $"The stream of run {runId} ended without {(stream.SawDone ? "a delta" : "[DONE]")} (within {RunTimeout.TotalSeconds:0} s) after " +
                $"{stream.Frames.Count} events (last id {(stream.Frames.Count > 0 ? stream.Frames[^1].Id : 0)}): {stream.Failure}; the server says {await api.DescribeAsync(runId)}.");
        }

        return new ClientRun(runId, postedAt, stream.FirstEventAt ?? firstDelta, firstDelta, stream.EndedAt);
    }
}
