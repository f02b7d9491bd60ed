using Qlaw.Bench.Engine;
using Qlaw.Bench.Measure;
using Qlaw.Bench.Stack;

namespace Qlaw.Bench.Scenarios;

/// <summary>
/// The bare Durable Task engine's half of the paced scenario: on the same Azurite and hub settings as Qlaw.Server, a
/// chain of 3 activities that each wait as long as a paced model call, one alone and then the same waves started
/// together. Qlaw can be no faster than the engine it runs on: the floor under its makespans.
/// </summary>
internal static class PacedEngine
{
    public static async Task<(double AloneSeconds, List<PacedWave> Waves)> RunAsync(
        BenchStack stack, HubSettings hub, TimeSpan activityTime, BenchScale scale, Action<string> log, CancellationToken cancellationToken)
    {
        await using var engine = await BareEngine.StartAsync(hub with { HubName = HubSettings.Fresh("be").HubName }, stack.StorageConnection, activityTime);
        await engine.RunAsync(3, cancellationToken);
        var alone = new List<double>();
        for (var i = 0; i < scale.PacedAloneRuns; i++)
        {
            var chain = await engine.RunAsync(3, cancellationToken);
            alone.Add(BenchClock.Milliseconds(chain.StartedAt, chain.LastActivityAt) / 1000);
        }

        var aloneSeconds = new Distribution(alone).P50;
        log($"Bare engine: one chain alone {aloneSeconds:0.00} s (median of {alone.Count})");
        var waves = new List<PacedWave>();
        foreach (var runs in scale.PacedWaves)
        {
            var cpu = CpuWindow.Start(new StackProcesses(Environment.ProcessId, stack.PostgresProcessId, stack.AzuriteProcessIds));
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(scale.PacedWaveLimit);
            var startedAt = BenchClock.Now;
            var chains = await ClosedLoop.MapAsync(Enumerable.Range(0, runs), PacedQlaw.StartConcurrency, _ => engine.RunAsync(3, limit.Token), limit.Token);
            var seconds = BenchClock.Milliseconds(startedAt, chains.Max(c => c.LastActivityAt)) / 1000;
            var usage = cpu.Stop();
            waves.Add(new PacedWave(runs, runs, 0, seconds, 0, seconds, false, 0, null, new WavePeaks(0, 0, 0), null, usage.ToString()));
            log($"Bare engine: {runs} chains together in {seconds:0.0} s");
        }

        return (aloneSeconds, waves);
    }
}
