using Qlaw.Bench.Measure;

namespace Qlaw.Bench.Scenarios;

/// <summary>
/// One wave of the paced scenario: <paramref name="Runs"/> runs started together and what they came to. Makespan is
/// from the first POST to the last run's end (or to the wave's limit, when <paramref name="TimedOut"/>);
/// <paramref name="PostedSeconds"/> from the first POST to the last one's answer. The server's PostgreSQL figures are
/// null for the peer, which has none.
/// </summary>
internal sealed record PacedWave(
    int Runs, int Completed, int Failed, double Seconds, double PostedSeconds, bool TimedOut, int PeakModelCalls, long? WaitedTurns, WavePeaks Peaks, int? PoolMax, string Cpu);
