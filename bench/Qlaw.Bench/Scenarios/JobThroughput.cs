using Npgsql;
using Qlaw.Bench.Clients;
using Qlaw.Bench.Engine;
using Qlaw.Bench.Measure;
using Qlaw.Bench.Report;
using Qlaw.Bench.Stack;
using static Qlaw.Bench.Report.ReportSection;

namespace Qlaw.Bench.Scenarios;

/// <summary>
/// Many runs of the 4-agent sample started together, until every one completed; then as many bare orchestrations of
/// as many no-op activities on the same hub settings. The ratio of the two is Qlaw's cost per step over the engine's hop.
/// </summary>
internal static class JobThroughput
{
    private const int WarmupRounds = 2;

    public static async Task<ReportSection> RunAsync(BenchStack stack, BenchServer server, BareEngine engine, BenchScale scale, SideBySide comparison, CancellationToken cancellationToken)
    {
        var runs = scale.ThroughputRuns;
        var steps = RunLatency.AgentSteps;
        var processes = new StackProcesses(server.ProcessId, stack.PostgresProcessId, stack.AzuriteProcessIds);
        var api = new QlawApi(server.Http);

        // Warm both up at the measured concurrency first (JIT, tiering, pools), unmeasured, so that the figures are of a
        // server in its steady state whatever ran before this scenario. Twice, each time until the server is idle: the
        // runtime starts counting calls towards its optimizing tier only once methods stop being compiled for the first
        // time, so one round leaves the optimizing compilations of the whole run path to the measured window.
        var warmup = runs / 5;
        for (var round = 0; round < WarmupRounds; round++)
        {
            await WaitUntilEndedAsync(
                stack.Database, await Task.WhenAll(Enumerable.Range(0, warmup).Select(_ => api.StartRunAsync(RunLatency.Workflow, cancellationToken))),
                TimeSpan.FromMinutes(2), cancellationToken);
            await Task.WhenAll(Enumerable.Range(0, warmup).Select(_ => engine.RunAsync(steps, cancellationToken)));
            await CpuWindow.WaitUntilIdleAsync(server.ProcessId, TimeSpan.FromSeconds(30), cancellationToken);
        }

        // Qlaw's window, then the engine's, as many times as the scale says: one pair's ratio moves by a fifth from one
        // pair to the next on these machines, so the report is the pair with the median ratio, beside every pair's.
        var pairs = new List<Pair>();
        for (var repetition = 0; repetition < scale.ThroughputRepetitions; repetition++)
        {
            pairs.Add(await MeasurePairAsync(stack, server, engine, api, processes, runs, steps, cancellationToken));
        }

        var median = pairs.OrderBy(p => p.Ratio).ElementAt(pairs.Count / 2);
        var (qlawSeconds, completed, completedSteps, qlawCpu, turns, postedSeconds, bareSeconds, bareCpu) = median;
        var qlawStepMs = qlawSeconds * 1000 / (runs * steps);
        var bareHopMs = bareSeconds * 1000 / (runs * steps);
        var ratio = median.Ratio;
        comparison.Throughput(SideBySide.Qlaw, completed, runs, qlawSeconds);
        comparison.Throughput(SideBySide.BareEngine, runs, runs, bareSeconds);
        var qlawCpuMs = qlawCpu.StackSeconds * 1000 / completedSteps;
        var bareCpuMs = bareCpu.StackSeconds * 1000 / (runs * steps);
        return new ReportSection(
            "Job throughput",
            $"After {WarmupRounds} rounds of {runs / 5} warm-up runs of each (each until the server is idle), {runs} runs of `{RunLatency.Workflow}` ({steps} agent turns each) started together (all POSTs in flight at once; they took {Number(postedSeconds, "0.00")} s), " +
            $"timed until the last run completed (its `completed_at`); then {runs} bare orchestrations of {steps} no-op activities started together on the same hub settings, " +
            "timed until the last activity ran. Before each window both hubs' ended orchestrations are purged, so that neither meets the other's history (Azurite's table queries scan every row) or retention pass. CPU in % of one core over each window.")
            .Table(
                ["", "completed", "seconds", "runs/s", "steps/s", "ms per step", "stack CPU ms per step", "CPU"],
                [
                    ["Qlaw", $"{completed}/{runs} ({completedSteps} steps)", Number(qlawSeconds, "0.00"), Number(runs / qlawSeconds), Number(completedSteps / qlawSeconds, "0"), Number(qlawStepMs, "0.00"), Number(qlawCpuMs, "0.0"), qlawCpu.ToString()],
                    ["bare engine", $"{runs}/{runs} ({runs * steps} activities)", Number(bareSeconds, "0.00"), Number(runs / bareSeconds), Number(runs * steps / bareSeconds, "0"), Number(bareHopMs, "0.00"), Number(bareCpuMs, "0.0"), bareCpu.ToString()],
                ])
            .Note($"Qlaw's cost per agent step is **{Number(ratio, "0.00")}×** the bare engine's hop" +
                  (pairs.Count > 1 ? $" (the median of {pairs.Count} pairs of windows, one after the other: {string.Join(", ", pairs.Select(p => Number(p.Ratio, "0.00") + "×"))}; the table is that pair)" : "") +
                  $". A run is {steps} activities, as many as the bare chain: " +
                  "the turn that completes the run also finishes it. In CPU (server, PostgreSQL, Azurite and the bench process together, " +
                  $"per step or hop) the ratio is {Number(qlawCpuMs / bareCpuMs, "0.00")}× — the bare engine runs in the bench process, so its CPU is counted there. " +
                  $"A turn itself (its step row, from start to completion) took {Number(turns.P50, "0")} ms at the median and {Number(turns.P90, "0")} ms at p90 under this load, " +
                  $"while each run spent {Number(runs / (completedSteps / qlawSeconds), "0.0")} s per step on average: the rest of a step is the hub's queues and episodes. " +
                  HubShare(qlawCpu, bareCpu, completedSteps, runs * steps, qlawCpuMs, bareCpuMs))
            .Goal("Per-step cost ≤ 1.3× the bare engine's hop", $"{Number(ratio, "0.00")}×", ratio <= 1.3)
            .Goal("Throughput ≥ the bare engine's", $"{Number(runs / qlawSeconds)} runs/s (bare engine: {Number(runs / bareSeconds)} orchestrations/s)", qlawSeconds <= bareSeconds)
            .Goal($"≥ 10 completed 4-agent runs/s on {Environment.ProcessorCount} cores", $"{Number(runs / qlawSeconds)} runs/s", runs / qlawSeconds >= 10);
    }

    // Where each window's CPU went per step, and how much of it Qlaw's own work may take to keep the engine's pace:
    // both windows drive the hub with the same requests per step, so Azurite's CPU and its worker's (the bench process
    // in the engine's window; inside the server in Qlaw's, not measured apart) are what a step on this hub costs anyway.
    // (qlawStackMs, bareStackMs: each stack's CPU per step or hop, as the table gives them.)
    private static string HubShare(CpuUsage qlaw, CpuUsage bare, long qlawSteps, long bareHops, double qlawStackMs, double bareStackMs)
    {
        var azurite = qlaw.MillisecondsPer(qlaw.Azurite, qlawSteps);
        var worker = bare.MillisecondsPer(bare.Bench, bareHops);
        var hub = azurite + worker;
        var own = qlawStackMs - hub;
        var budget = qlaw.Total / 100 * bare.Seconds * 1000 / bareHops;
        var left = budget - hub;
        return $"In CPU milliseconds per step: Azurite {Number(azurite)} for Qlaw against {Number(bare.MillisecondsPer(bare.Azurite, bareHops))} per engine hop, " +
               $"Qlaw's server {Number(qlaw.MillisecondsPer(qlaw.Server, qlawSteps))} and PostgreSQL {Number(qlaw.MillisecondsPer(qlaw.Postgres, qlawSteps))}, " +
               $"the engine's worker {Number(worker)} and its whole stack {Number(bareStackMs)}. " +
               $"At the load Qlaw's stack ran at ({Number(qlaw.Total, "0")} % of {Environment.ProcessorCount * 100} %), keeping the engine's pace would allow {Number(budget)} ms of CPU per step; " +
               $"Azurite and a hub worker's share (the engine's) take {Number(hub)} ms of it, " +
               (left > 0 ? $"which leaves {Number(left)} ms" : "which leaves nothing") +
               $" for Qlaw's own work (the turn, PostgreSQL, the API), which took {Number(own)} ms.";
    }

    // One pair of windows: Qlaw's runs started together until the last completed, then as many bare orchestrations.
    private static async Task<Pair> MeasurePairAsync(
        BenchStack stack, BenchServer server, BareEngine engine, QlawApi api, StackProcesses processes, int runs, int steps, CancellationToken cancellationToken)
    {
        await engine.PurgeEndedNowAsync(server.Profile.Hub, stack.StorageConnection);
        var cpu = CpuWindow.Start(processes);
        var startedAt = BenchClock.Now;
        var ids = await Task.WhenAll(Enumerable.Range(0, runs).Select(_ => api.StartRunAsync(RunLatency.Workflow, cancellationToken)));
        var postedSeconds = BenchClock.Milliseconds(startedAt, BenchClock.Now) / 1000;
        await WaitUntilEndedAsync(stack.Database, ids, TimeSpan.FromMinutes(4), cancellationToken);
        var qlawCpu = cpu.Stop();
        var (completed, lastCompletedAt, completedSteps) = await OutcomeAsync(stack.Database, ids);
        var turns = await TurnDurationsAsync(stack.Database, ids, cancellationToken);
        var qlawSeconds = (lastCompletedAt - BenchClock.ToUtc(startedAt)).TotalSeconds;

        // The runs' orchestrations finish their last episode after the runs completed: let that drain first.
        await CpuWindow.WaitUntilIdleAsync(server.ProcessId, TimeSpan.FromSeconds(30), cancellationToken);
        await engine.PurgeEndedNowAsync(server.Profile.Hub, stack.StorageConnection);
        cpu = CpuWindow.Start(processes);
        var bare = await Task.WhenAll(Enumerable.Range(0, runs).Select(_ => engine.RunAsync(steps, cancellationToken)));
        var bareCpu = cpu.Stop();
        var bareSeconds = BenchClock.Milliseconds(bare.Min(b => b.StartedAt), bare.Max(b => b.LastActivityAt)) / 1000;
        await CpuWindow.WaitUntilIdleAsync(server.ProcessId, TimeSpan.FromSeconds(30), cancellationToken);
        return new Pair(qlawSeconds, completed, completedSteps, qlawCpu, turns, postedSeconds, bareSeconds, bareCpu);
    }

    private sealed record Pair(
        double QlawSeconds, int Completed, long CompletedSteps, CpuUsage QlawCpu, (double P50, double P90) Turns, double PostedSeconds, double BareSeconds, CpuUsage BareCpu)
    {
        /// <summary>Qlaw's time per step over the engine's per hop (both windows ran as many runs of as many steps).</summary>
        public double Ratio => QlawSeconds / BareSeconds;
    }

    /// <summary>Polls PostgreSQL until every run has ended (bounded).</summary>
    public static async Task WaitUntilEndedAsync(NpgsqlDataSource database, Guid[] ids, TimeSpan limit, CancellationToken cancellationToken)
    {
        var deadline = BenchClock.Now + (long)(limit.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        while (await EventLog.EndedAsync(database, ids) < ids.Length)
        {
            if (BenchClock.Now > deadline)
            {
                throw new BenchException($"Only {await EventLog.EndedAsync(database, ids)} of {ids.Length} runs ended within {limit.TotalSeconds:0} s.");
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    /// <summary>Median and p90 of the runs' completed attempts, from their step rows (ms).</summary>
    public static async Task<(double P50, double P90)> TurnDurationsAsync(NpgsqlDataSource database, Guid[] ids, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), percentile_cont(0.9) WITHIN GROUP (ORDER BY d) " +
            "FROM (SELECT extract(epoch FROM completed_at - started_at) * 1000 AS d FROM steps WHERE run_id = ANY($1) AND status = 'completed') t");
        command.Parameters.Add(new() { Value = ids });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetDouble(0), reader.GetDouble(1));
    }

    /// <summary>
    /// Where a run's time goes besides its turns (ms, median and p90 over the runs' completed steps): from the run's
    /// creation to its first turn's start, and from a turn's completion to the next turn's start (the hub's hop).
    /// </summary>
    public static async Task<((double P50, double P90) Start, (double P50, double P90) Hop)> GapsAsync(NpgsqlDataSource database, Guid[] ids, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(
            "WITH s AS (SELECT s.run_id, s.index, s.started_at, r.created_at, " +
            "lag(s.completed_at) OVER (PARTITION BY s.run_id ORDER BY s.index) AS previous " +
            "FROM steps s JOIN runs r ON r.id = s.run_id WHERE s.run_id = ANY($1) AND s.status = 'completed') " +
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at) * 1000) FILTER (WHERE index = 0), " +
            "percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at) * 1000) FILTER (WHERE index = 0), " +
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - previous) * 1000) FILTER (WHERE index > 0), " +
            "percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - previous) * 1000) FILTER (WHERE index > 0) FROM s");
        command.Parameters.Add(new() { Value = ids });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        double At(int i) => reader.IsDBNull(i) ? 0 : reader.GetDouble(i);
        return ((At(0), At(1)), (At(2), At(3)));
    }

    private static async Task<(int Completed, DateTime LastCompletedAt, long Steps)> OutcomeAsync(NpgsqlDataSource database, Guid[] ids)
    {
        await using var command = database.CreateCommand(
            "SELECT count(*) FILTER (WHERE status = 'completed'), max(completed_at), " +
            "(SELECT count(*) FROM steps WHERE run_id = ANY($1) AND status = 'completed') FROM runs WHERE id = ANY($1)");
        command.Parameters.Add(new() { Value = ids });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return ((int)reader.GetInt64(0), reader.GetDateTime(1), reader.GetInt64(2));
    }
}
