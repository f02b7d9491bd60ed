using Qlaw.Bench.Clients;
using Qlaw.Bench.Measure;
using Qlaw.Bench.Peer;
using Qlaw.Bench.Report;
using static Qlaw.Bench.Report.ReportSection;

namespace Qlaw.Bench.Scenarios;

/// <summary>
/// The LangGraph.js local API server (bench/peer/) with a graph of 5 nodes, each streaming one token of a zero-latency
/// model, measured like Qlaw: sequential runs timed to the first event, the first text and the end of the stream; as
/// many runs started together as the throughput scenario starts; and a kill -9 mid-run, then a restart.
/// </summary>
internal static class LangGraphPeer
{
    /// <summary>Fewer sequential runs than Qlaw's: each peer run lasts over half a second (its stream ends on a 500 ms poll).</summary>
    public static int SequentialRuns(BenchScale scale) => Math.Min(scale.LatencyLevels[0].Runs, 100);

    private const int Nodes = 5;
    private const int PaceMs = 300;

    public static async Task<ReportSection> RunAsync(string repository, BenchScale scale, SideBySide comparison, bool echo, CancellationToken cancellationToken)
    {
        await using var peer = await PeerServer.StartAsync(repository, echo);
        var api = new LangGraphApi(peer.Http);
        for (var i = 0; i < scale.WarmupRuns; i++)
        {
            await OneRunAsync(api, cancellationToken);
        }

        var runs = SequentialRuns(scale);
        var (timed, seconds) = await ClosedLoop.RunAsync(1, runs, ct => OneRunAsync(api, ct), cancellationToken);
        var firstEvent = new Distribution(timed.Select(r => BenchClock.Milliseconds(r.PostedAt, r.FirstEventAt)));
        var firstText = new Distribution(timed.Select(r => BenchClock.Milliseconds(r.PostedAt, r.FirstDeltaAt)));
        var end = new Distribution(timed.Select(r => BenchClock.Milliseconds(r.PostedAt, r.ClosedAt)));
        var closing = new Distribution(timed.Select(r => BenchClock.Milliseconds(r.LastTextAt, r.ClosedAt)));
        comparison.Latency(SideBySide.Peer, firstEvent, firstText, end);

        var together = await WaveAsync(api, peer.ProcessId, scale.ThroughputRuns, LangGraphApi.Graph, TimeSpan.FromMinutes(4), int.MaxValue, cancellationToken);
        if (together.TimedOut)
        {
            throw new BenchException($"The LangGraph.js server did not end {scale.ThroughputRuns} runs within 4 minutes.");
        }

        comparison.Throughput(SideBySide.Peer, together.Completed, scale.ThroughputRuns, together.Seconds);

        var kill = await KillAsync(peer, api, scale.CrashRuns, echo, cancellationToken);
        comparison.AfterKill(SideBySide.Peer, $"{kill.Known}/{kill.Accepted} runs known, {kill.Completed}/{kill.Accepted} completed");

        return new ReportSection(
            "LangGraph.js peer",
            $"The LangGraph.js API server (`@langchain/langgraph-api` {PeerVersion(repository)}, the in-memory server that `langgraphjs dev` runs; " +
            "bench/peer/) on 127.0.0.1, with a graph of 5 nodes in a chain, each asking a zero-latency chat model for one token. " +
            $"Sequential: `POST /threads` (not timed), then `POST /threads/{{id}}/runs/stream` with `stream_mode: [\"messages-tuple\"]`, timed from that POST " +
            $"to the first event (`metadata`), to the first `messages` event (text) and to the end of the stream (the server closes it); {scale.WarmupRuns} warm-up runs first. Milliseconds.")
            .Table(
                ["", "runs", "first event p50", "p95", "p99", "first text p50", "p95", "p99", "stream end p50", "p95", "p99", "last text → end p50", "runs/s"],
                [["LangGraph.js, sequential", runs.ToString(System.Globalization.CultureInfo.InvariantCulture), Ms(firstEvent.P50), Ms(firstEvent.P95), Ms(firstEvent.P99), Ms(firstText.P50), Ms(firstText.P95), Ms(firstText.P99), Ms(end.P50), Ms(end.P95), Ms(end.P99), Ms(closing.P50), Number(runs / seconds)]])
            .Note("A run's events are published by the worker that takes it (idle workers look for a run after a random pause of up to 1 s), so `metadata` " +
                  "and the first token, zero-latency, leave together. The stream closes when its reader's 500 ms wait for the next event times out and " +
                  "finds the run ended: *last text → end*.")
            .Note($"{scale.ThroughputRuns} background runs (`POST /threads/{{id}}/runs`, threads made first) started together, timed until the last run's " +
                  "status was set (its `updated_at`); the server runs 10 runs at a time (the dev server's default workers). CPU in % of one core.")
            .Table(
                ["completed", "seconds", "runs/s", "steps/s", "server CPU"],
                [[$"{together.Completed}/{scale.ThroughputRuns}", Number(together.Seconds, "0.00"), Number(together.Completed / together.Seconds), Number(together.Completed * Nodes / together.Seconds, "0"), $"{together.CpuPercent:0}%"]])
            .Note($"kill -9: {kill.Accepted} background runs with each node paced at {PaceMs} ms; once {kill.RunningAtKill} were running the server was SIGKILLed and " +
                  $"started again on the same storage folder, and each accepted run was looked up {kill.WaitedSeconds:0} s later. The dev server keeps its state in memory " +
                  "and writes it to `.langgraph_api/` 3 s after the last change (and on a graceful stop), so a kill under steady work loses what it had not written.")
            .Table(
                ["accepted", "running at the kill", "ended before the kill", "restart s", "runs known after the restart", "completed", "lost"],
                [[kill.Accepted.ToString(System.Globalization.CultureInfo.InvariantCulture), kill.RunningAtKill.ToString(System.Globalization.CultureInfo.InvariantCulture), kill.EndedAtKill.ToString(System.Globalization.CultureInfo.InvariantCulture), Number(kill.RestartSeconds), $"{kill.Known}/{kill.Accepted}", $"{kill.Completed}/{kill.Accepted}", (kill.Accepted - kill.Known).ToString(System.Globalization.CultureInfo.InvariantCulture)]]);
    }

    private sealed record PeerRun(long PostedAt, long FirstEventAt, long FirstDeltaAt, long LastTextAt, long ClosedAt);

    private static async Task<PeerRun> OneRunAsync(LangGraphApi api, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        var threadId = await api.CreateThreadAsync("latency", timeout.Token);
        var postedAt = BenchClock.Now;
        var stream = await api.StreamRunAsync(threadId, timeout.Token);
        var texts = stream.Frames.Count(f => f.Kind == SseKind.Delta);
        if (stream.Failure is not null || texts != Nodes || stream.Frames.Any(f => f.Kind == SseKind.End) || stream.FirstEventAt is not { } firstEvent || stream.FirstDeltaAt is not { } firstText)
        {
            throw new BenchException($"A LangGraph.js run on thread {threadId} streamed {texts} of {Nodes} tokens ({stream.Failure ?? "no transport failure"}).");
        }

        return new PeerRun(postedAt, firstEvent, firstText, stream.Frames.Last(f => f.Kind == SseKind.Delta).ReceivedAt, stream.EndedAt);
    }

    // The runs' statuses are read this many at once after a wave.
    private const int StatusReads = 64;

    /// <summary>What a wave of background runs came to: the server's CPU in % of one core; <c>TimedOut</c> when runs were still busy at the limit.</summary>
    internal sealed record Wave(int Completed, int Failed, double Seconds, double PostedSeconds, double CpuPercent, bool TimedOut);

    /// <summary>
    /// <paramref name="runs"/> background runs of <paramref name="graph"/> (threads made first) started together, at most
    /// <paramref name="startConcurrency"/> POSTs at once, timed until the last run's end was recorded (its <c>updated_at</c>),
    /// or until <paramref name="limit"/> (then as far as the runs that ended).
    /// </summary>
    internal static async Task<Wave> WaveAsync(LangGraphApi api, int pid, int runs, string graph, TimeSpan limit, int startConcurrency, CancellationToken cancellationToken)
    {
        var batch = $"throughput-{Guid.NewGuid():N}";
        var threads = new List<Guid>(runs);
        for (var i = 0; i < runs; i++)
        {
            threads.Add(await api.CreateThreadAsync(batch, cancellationToken));
        }

        var cpuBefore = ProcessStats.CpuSeconds(pid);
        var startedAt = BenchClock.Now;
        var ids = await ClosedLoop.MapAsync(threads, Math.Min(startConcurrency, runs), t => api.StartRunAsync(t, 0, cancellationToken, graph), cancellationToken);
        var postedSeconds = BenchClock.Milliseconds(startedAt, BenchClock.Now) / 1000;
        var drained = await TryWaitAsync(() => api.CountBusyAsync(batch, cancellationToken), busy => busy == 0, limit, cancellationToken);
        var cpuPercent = (ProcessStats.CpuSeconds(pid) - cpuBefore) / (BenchClock.Milliseconds(startedAt, BenchClock.Now) / 1000) * 100;
        var statuses = await ClosedLoop.MapAsync(threads.Zip(ids), StatusReads, r => api.GetRunAsync(r.First, r.Second, cancellationToken), cancellationToken);
        var lastAt = statuses.Where(s => s?.HasEnded == true).Select(s => s!.UpdatedAt).DefaultIfEmpty(BenchClock.ToUtc(startedAt)).Max();
        return new Wave(statuses.Count(s => s?.Status == "success"), statuses.Count(s => s is { HasEnded: true, Status: not "success" }), (lastAt - BenchClock.ToUtc(startedAt)).TotalSeconds, postedSeconds, cpuPercent, !drained.Done);
    }

    private sealed record KillOutcome(int Accepted, int RunningAtKill, int EndedAtKill, double RestartSeconds, double WaitedSeconds, int Known, int Completed);

    private static async Task<KillOutcome> KillAsync(PeerServer peer, LangGraphApi api, int runs, bool echo, CancellationToken cancellationToken)
    {
        var batch = $"kill-{Guid.NewGuid():N}";
        var accepted = new List<(Guid Thread, Guid Run)>(runs);
        for (var i = 0; i < runs; i++)
        {
            var thread = await api.CreateThreadAsync(batch, cancellationToken);
            accepted.Add((thread, await api.StartRunAsync(thread, PaceMs, cancellationToken)));
        }

        async Task<PeerRunStatus?[]> StatusesAsync() => await Task.WhenAll(accepted.Select(a => api.GetRunAsync(a.Thread, a.Run, cancellationToken)));

        // Mid-run: every worker busy (10, or all runs if fewer), each with a node or two done.
        var atKill = await WaitAsync(StatusesAsync, s => s.Count(r => r?.Status == "running") >= Math.Min(runs, 10), TimeSpan.FromSeconds(20), cancellationToken);
        await Task.Delay(PaceMs * 2, cancellationToken);
        peer.Kill();
        var killedAt = BenchClock.Now;
        await peer.RestartAsync(echo);
        var restartSeconds = BenchClock.Milliseconds(killedAt, BenchClock.Now) / 1000;

        // Long enough for every accepted run to have finished had it survived: two rounds of 10 paced runs.
        var waited = TimeSpan.FromMilliseconds((runs / 10 + 2) * Nodes * PaceMs + 3000);
        await Task.Delay(waited, cancellationToken);
        var after = await StatusesAsync();
        return new KillOutcome(
            runs, atKill.Count(r => r?.Status == "running"), atKill.Count(r => r?.HasEnded == true), restartSeconds,
            BenchClock.Milliseconds(killedAt, BenchClock.Now) / 1000, after.Count(r => r is not null), after.Count(r => r?.Status == "success"));
    }

    /// <summary>Polls <paramref name="read"/> every 200 ms until <paramref name="done"/> holds (bounded); returns the last value.</summary>
    private static async Task<T> WaitAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan limit, CancellationToken cancellationToken)
    {
        var (value, reached) = await TryWaitAsync(read, done, limit, cancellationToken);
        return reached ? value : throw new BenchException($"The LangGraph.js server did not get there within {limit.TotalSeconds:0} s.");
    }

    // As WaitAsync, saying whether it got there instead of throwing.
    private static async Task<(T Value, bool Done)> TryWaitAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan limit, CancellationToken cancellationToken)
    {
        var deadline = BenchClock.Now + (long)(limit.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        var value = await read();
        while (!done(value))
        {
            if (BenchClock.Now > deadline)
            {
                return (value, false);
            }

            await Task.Delay(200, cancellationToken);
            value = await read();
        }

        return (value, true);
    }

    private static string PeerVersion(string repository)
    {
        var path = Path.Combine(repository, "bench", "peer", "node_modules", "@langchain", "langgraph-api", "package.json");
        return File.Exists(path) && System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))?["version"]?.GetValue<string>() is { } version ? version : "?";
    }
}
