using System.Globalization;
using Qlaw.Bench.Measure;
using Qlaw.Bench.Report;
using Qlaw.Bench.Stack;
using static Qlaw.Bench.Report.ReportSection;

namespace Qlaw.Bench.Scenarios;

/// <summary>The dead-letter scenario's section: its milestones, each run's lag behind its bounds, and what was left.</summary>
internal static class DeadLetterReport
{
    public static ReportSection Section(
        int runs, BenchServer server, int abandonSeconds, int retentionSeconds, RunFates runFates, DeadLetterProgress progress,
        long[] rows, int waiting, int stored, CpuUsage usage, WavePeaks peaks)
    {
        var all = runFates.All();
        var fates = all.Select(f => f.Fate).ToList();
        var deadLettered = fates.Count(f => f.DeadLetteredAt is not null);
        var abandoned = fates.Count(f => f.AbandonedAt is not null);
        var gone = fates.Count(f => f.GoneAt is not null);
        var other = fates.Where(f => f.Other is not null).GroupBy(f => f.Other!).Select(g => $"{g.Count()} {g.Key}").ToList();
        var lastDeadLetter = fates.Max(f => f.DeadLetteredAt);
        var abandonTime = lastDeadLetter?.AddSeconds(abandonSeconds);
        var lastAbandoned = fates.Max(f => f.AbandonedAt);
        var retentionTime = lastAbandoned?.AddSeconds(retentionSeconds);
        double Seconds(DateTime? at) => at is { } t ? (t - progress.StartedAt).TotalSeconds : double.NaN;
        var abandonLag = new Distribution(fates.Where(f => f is { DeadLetteredAt: not null, AbandonedAt: not null })
            .Select(f => (f.AbandonedAt!.Value - f.DeadLetteredAt!.Value).TotalSeconds - abandonSeconds));
        var deleteLag = new Distribution(fates.Where(f => f is { AbandonedAt: not null, GoneAt: not null })
            .Select(f => (f.GoneAt!.Value - f.AbandonedAt!.Value).TotalSeconds - retentionSeconds));
        var noneWaiting = progress.At("none waiting");
        var hubEmpty = progress.At("hub empty");
        var allDeleted = progress.At("all deleted");
        var rowsLeft = rows.Sum();

        var section = new ReportSection(
            "Dead letters: failing runs abandoned and deleted",
            $"{N(runs)} runs of `{DeadLetters.Workflow}` (one scripted agent whose every attempt fails permanently, `fail_permanent`: no retry, the run is " +
            $"dead-lettered at its first turn and waits for `continue`), started through `POST /v1/workflows/{DeadLetters.Workflow}/runs` on 127.0.0.1 by " +
            $"{DeadLetters.StartConcurrency} clients in a closed loop, each 429 tried again after its `Retry-After`. Qlaw.Server (profile `{server.Profile.Name}`, " +
            $"the server's default hub settings) abandons a dead letter after `Recovery:AbandonDeadLettersAfterSeconds` = {abandonSeconds} and deletes an ended " +
            $"run after `Retention:DeleteRunsAfterSeconds` = {retentionSeconds}, with passes every `Recovery:ReconcileIntervalSeconds` = " +
            $"{server.Setting("Recovery:ReconcileIntervalSeconds")} s and `Retention:IntervalSeconds` = {server.Setting("Retention:IntervalSeconds")} s " +
            $"(defaults: a day, never, 10 s, an hour). The server's cap paces the starts: `Limits:MaxActiveRuns` = {server.Setting("Limits:MaxActiveRuns")} " +
            "(its default; a dead letter counts as active until abandoned), `MaxActiveRunsPerClient` raised to as many (default 100: the bench is one " +
            $"client address) and `ActiveRunsRetryAfterSeconds` = {server.Setting("Limits:ActiveRunsRetryAfterSeconds")} (default 10); rate limits are off, " +
            "as for every bench server. The runs' rows are read every second: a run is dead-lettered when failed with no end (its `updated_at`), " +
            "abandoned when failed with an end (its `completed_at`), deleted when its row is gone (to the second). The hub's instance table is counted " +
            "(`run-…` instances) with the provider the server runs on: *waiting* is pending or running. Seconds from the first POST. " +
            $"Runs are started for {Number(DeadLetters.StartWindow(abandonSeconds, retentionSeconds).TotalMinutes, "0")} min at most, so that the last " +
            $"ones can reach both bounds before the scenario stops itself, {Number(DeadLetters.Limit.TotalMinutes, "0")} min after its first POST; " +
            "what was not reached by then is reported as such.")
            .Table(
                ["milestone", "at s", ""],
                [
                    ["starts done", Number(Seconds(progress.At("starts done"))),
                        $"{N(all.Count)}/{N(runs)} started ({Number(all.Count / Seconds(progress.At("starts done")))} runs/s), {N(progress.Refused)} POSTs refused with 429; " +
                        $"at most {N(runFates.PeakActive)} runs active and {N(runFates.PeakDeadLettered)} dead-lettered at once"],
                    ["all dead-lettered", Number(Seconds(progress.At("all dead-lettered"))),
                        $"{N(deadLettered)}/{N(all.Count)}, the last at {Number(Seconds(lastDeadLetter))} s ({Number(deadLettered / Seconds(lastDeadLetter))} runs/s); " +
                        $"{Count(progress.WaitingAtLastDeadLetter)} orchestrations waiting then" + (other.Count > 0 ? $"; other statuses: {string.Join(", ", other)}" : "")],
                    ["the last run's abandon time", Number(Seconds(abandonTime)), $"its dead letter + {abandonSeconds} s: {Count(progress.WaitingAtAbandonTime)} orchestrations waiting"],
                    ["none waiting", Number(Seconds(noneWaiting)),
                        $"{N(abandoned)}/{N(all.Count)} abandoned, the last at {Number(Seconds(lastAbandoned))} s; 0 orchestrations waiting, " +
                        $"{Number(Seconds(noneWaiting) - Seconds(abandonTime))} s after the last run's abandon time (checked every 5 s)"],
                    ["the last run's retention time", Number(Seconds(retentionTime)), $"its abandonment + {retentionSeconds} s"],
                    ["all deleted", Number(Seconds(allDeleted)), $"{N(gone)}/{N(all.Count)} rows gone, {Number(Seconds(allDeleted) - Seconds(retentionTime))} s after the last run's retention time"],
                    ["hub empty", Number(Seconds(hubEmpty)), "no instance of the runs stored in the hub (checked every 5 s)"],
                ])
            .Table(
                ["each run, s", "p50", "p99", "max"],
                [
                    ["abandoned after its abandon time (dead letter + " + abandonSeconds + " s)", Number(abandonLag.P50), Number(abandonLag.P99), Number(abandonLag.Max)],
                    ["deleted after its retention time (abandonment + " + retentionSeconds + " s)", Number(deleteLag.P50), Number(deleteLag.P99), Number(deleteLag.Max)],
                ])
            .Table(
                ["left at the end", .. DeadLetters.HistoryTables, "hub: waiting", "hub: stored"],
                [["rows / instances", .. rows.Select(N), N(waiting), N(stored)]])
            .Note($"CPU over the scenario ({Number(usage.Seconds, "0")} s), in % of one core: {usage}; the server's peak resident memory {Number(peaks.RssMiB, "0")} MiB.");
        var complete = all.Count == runs && deadLettered == runs && other.Count == 0;
        var started = all.Count == runs ? "" : $"only {N(all.Count)} of {N(runs)} started in time; of those, ";
        return section
            .Goal(
                $"{N(runs)} failing runs (scripted `fail_permanent`) leave zero orchestrations waiting after the abandon time",
                started + (noneWaiting is null
                    ? $"not reached: {N(abandoned)}/{N(all.Count)} abandoned, {N(waiting)} waiting at the end"
                    : $"0 waiting {Number(Seconds(noneWaiting) - Seconds(abandonTime))} s after the last run's abandon time; each run abandoned ≤ {Number(abandonLag.Max)} s after its own"),
                complete && noneWaiting is not null && waiting == 0)
            .Goal(
                $"… and zero rows after retention",
                started + (allDeleted is null
                    ? $"not reached: {N(gone)}/{N(all.Count)} runs deleted, {N(rowsLeft)} rows and {N(stored)} hub instances left"
                    : $"0 rows in {DeadLetters.HistoryTables.Count} tables {Number(Seconds(allDeleted) - Seconds(retentionTime))} s after the last run's retention time, {N(stored)} hub instances"),
                complete && allDeleted is not null && rowsLeft == 0 && stored == 0);
    }

    private static string Count(int? value) => value is { } n ? N(n) : "–";

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
