using Qlaw.Bench.Measure;

namespace Qlaw.Bench.Scenarios;

/// <summary>
/// One wave of the paced scenario: <paramref name="Runs"/> runs started together and what they came to. Makespan is
/// from the first POST to the last run's end (or to the wave's limit, when <paramref name="TimedOut"/>);
/// <paramref name="PostedSeconds"/> from the first POST to the last one's answer; <paramref name="LastEndedSeconds"/>
/// to the last run that did end. The server's figures (its turns from their step rows, PostgreSQL, what the runs that
/// did not end were doing) are null for the peer.
/// </summary>
internal sealed record PacedWave(
    int Runs, int Completed, int Failed, double Seconds, double PostedSeconds, double LastEndedSeconds, bool TimedOut, int PeakModelCalls, long? WaitedTurns,
    WavePeaks Peaks, int? PoolMax, string Cpu)
{
    /// <summary>Median and p90 of the turns' durations (ms), from start to completion.</summary>
    public (double P50, double P90)? Turns { get; init; }

    /// <summary>Median and p90 (ms) of a run's creation to its first turn, and of a turn's end to the next one's start.</summary>
    public ((double P50, double P90) Start, (double P50, double P90) Hop)? Gaps { get; init; }

    /// <summary>The runs that had not ended at the limit, a few of them described.</summary>
    public string? NotEnded { get; init; }
}
