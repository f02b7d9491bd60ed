using System.Globalization;
using Qlaw.Bench.Clients;
using Qlaw.Bench.Measure;
using Qlaw.Bench.Peer;
using Qlaw.FakeModel;

namespace Qlaw.Bench.Scenarios;

/// <summary>
/// The LangGraph.js peer's half of the paced scenario: its 3-node graph on the same paced model (bench/peer/paced.mjs),
/// one background run at a time, then waves started together, timed as the peer scenario times its background runs.
/// </summary>
internal static class PacedPeer
{
    public static async Task<(double AloneSeconds, List<PacedWave> Waves, int Workers)> RunAsync(
        string repository, FakeOpenAIServer model, BenchScale scale, bool echo, Action<string> log, CancellationToken cancellationToken)
    {
        // As many workers as the largest wave has runs: the peer may run every run of a wave at once, as Qlaw's hub may.
        var workers = scale.PacedWaves.Max();
        await using var peer = await PeerServer.StartAsync(repository, echo, new PeerOptions(workers, model.BaseUrl));
        var api = new LangGraphApi(peer.Http);
        var aloneLimit = TimeSpan.FromMinutes(1);
        var warmup = await LangGraphPeer.WaveAsync(api, peer.ProcessId, 1, LangGraphApi.PacedGraph, aloneLimit, 1, cancellationToken);
        if (warmup.Completed != 1)
        {
            throw new BenchException("A LangGraph.js run of the paced graph did not succeed within a minute (is the model reachable from the peer?).");
        }

        var alone = new List<double>();
        for (var i = 0; i < scale.PacedAloneRuns; i++)
        {
            alone.Add((await LangGraphPeer.WaveAsync(api, peer.ProcessId, 1, LangGraphApi.PacedGraph, aloneLimit, 1, cancellationToken)).Seconds);
        }

        var aloneSeconds = new Distribution(alone).P50;
        log($"LangGraph.js: one run alone {aloneSeconds:0.00} s (median of {alone.Count})");
        var waves = new List<PacedWave>();
        foreach (var runs in scale.PacedWaves)
        {
            await CpuWindow.WaitUntilIdleAsync(peer.ProcessId, TimeSpan.FromSeconds(30), cancellationToken);
            model.ResetPeakInFlight();
            var bench = ProcessStats.CpuSeconds(StackProcesses.Bench);
            var startedAt = BenchClock.Now;
            await using var sampler = WaveSampler.Start(peer.ProcessId);
            var wave = await LangGraphPeer.WaveAsync(api, peer.ProcessId, runs, LangGraphApi.PacedGraph, scale.PacedWaveLimit, PacedQlaw.StartConcurrency, cancellationToken);
            var peaks = await sampler.StopAsync();
            var benchPercent = (ProcessStats.CpuSeconds(StackProcesses.Bench) - bench) / (BenchClock.Milliseconds(startedAt, BenchClock.Now) / 1000) * 100;
            var seconds = wave.TimedOut ? scale.PacedWaveLimit.TotalSeconds : wave.Seconds;
            waves.Add(new PacedWave(
                runs, wave.Completed, wave.Failed, seconds, wave.PostedSeconds, wave.Seconds, wave.TimedOut, model.PeakInFlight, null, peaks, null,
                string.Create(CultureInfo.InvariantCulture, $"peer server {wave.CpuPercent:0}%, bench process {benchPercent:0}%")));
            log($"LangGraph.js: {runs} runs together: {wave.Completed} completed in {seconds:0.0} s{(wave.TimedOut ? " (timed out)" : "")}");
            if (wave.TimedOut)
            {
                break;
            }
        }

        return (aloneSeconds, waves, workers);
    }
}
