using Npgsql;
using Qlaw.Bench.Clients;
using Qlaw.Bench.Measure;
using Qlaw.Bench.Report;
using Qlaw.Bench.Stack;
using static Qlaw.Bench.Report.ReportSection;

namespace Qlaw.Bench.Scenarios;

/// <summary>
/// Runs in flight, the server SIGKILLed, restarted at once on the same hub and worker id: how long until every run
/// that was in flight has a new event, whether all complete, and whether any step or transition was duplicated.
/// </summary>
internal static class CrashRecovery
{
    private sealed record Round(string Name, HubSettings Hub);

    private sealed record Outcome(
        string Name, int InFlight, double RestartSeconds, Distribution MovingAgain, int Moved, int Completed, long DuplicateSteps,
        long AuditMismatches, long Superseded);

    public static async Task<ReportSection> RunAsync(BenchStack stack, BenchScale scale, CancellationToken cancellationToken)
    {
        Round[] rounds =
        [
            new("Qlaw.Server defaults (visibility timeouts 10 s)", HubSettings.Fresh("bk")),
            new("visibility timeouts 5 s", HubSettings.Fresh("bk") with
            {
                ControlQueueVisibilityTimeout = TimeSpan.FromSeconds(5),
                WorkItemQueueVisibilityTimeout = TimeSpan.FromSeconds(5),
            }),
        ];
        var outcomes = new List<Outcome>();
        foreach (var round in rounds)
        {
            outcomes.Add(await KillAndRestartAsync(stack, round, scale.CrashRuns, cancellationToken));
        }

        var section = new ReportSection(
            "Crash and restart recovery",
            $"{scale.CrashRuns} runs of `{RunLatency.Workflow}` with turns paced at 300 ms (+5 ms a token) so that all are mid-run; once each has a completed " +
            "step the server is SIGKILLed and started again at once (same hub, same `Durable:WorkerId`). *Moving again* = kill → the commit of the " +
            "run's first event after the kill. Then every run must complete with no step completed twice and an audit trail that matches the committed steps (one `step.completed` per completed step, one `handoff`/`return` per transition, one `run.started` and `run.completed`).")
            .Table(
                ["hub settings", "in flight", "restart s", "moving again p50 s", "max s", "moved", "completed", "duplicate steps", "audit mismatches", "superseded attempts"],
                outcomes.Select(o => new[]
                {
                    o.Name, o.InFlight.ToString(), Number(o.RestartSeconds), Number(o.MovingAgain.P50 / 1000), Number(o.MovingAgain.Max / 1000),
                    $"{o.Moved}/{o.InFlight}", $"{o.Completed}/{o.InFlight}", o.DuplicateSteps.ToString(), o.AuditMismatches.ToString(), o.Superseded.ToString(),
                }));
        var defaults = outcomes[0];
        return section.Goal(
            "After a kill -9, every in-flight run moving again within 15 s (server defaults)",
            $"{defaults.Moved}/{defaults.InFlight} moved, the last after {Number(defaults.MovingAgain.Max / 1000)} s",
            defaults.Moved == defaults.InFlight && defaults.MovingAgain.Max <= 15_000);
    }

    private static async Task<Outcome> KillAndRestartAsync(BenchStack stack, Round round, int runs, CancellationToken cancellationToken)
    {
        await using var server = await stack.StartServerAsync(ServerProfile.Paced(round.Hub));
        var api = new QlawApi(server.Http);
        var ids = await Task.WhenAll(Enumerable.Range(0, runs).Select(_ => api.StartRunAsync(RunLatency.Workflow, cancellationToken)));
        await WaitForFirstStepsAsync(stack.Database, ids, cancellationToken);

        var lastIds = await LastEventIdsAsync(stack.Database, ids);
        var inFlight = await InFlightAsync(stack.Database, ids);
        var killedAt = BenchClock.Now;
        server.Kill();
        await server.RestartAsync();
        var restartSeconds = BenchClock.Milliseconds(killedAt, BenchClock.Now) / 1000;

        var moved = new Dictionary<Guid, DateTime>();
        var deadline = BenchClock.Now + 90 * System.Diagnostics.Stopwatch.Frequency;
        while (moved.Count < inFlight.Length && BenchClock.Now < deadline)
        {
            foreach (var (runId, at) in await FirstEventsAfterAsync(stack.Database, inFlight, lastIds))
            {
                moved.TryAdd(runId, at);
            }

            await Task.Delay(100, cancellationToken);
        }

        var killedUtc = BenchClock.ToUtc(killedAt);
        try
        {
            await JobThroughput.WaitUntilEndedAsync(stack.Database, ids, TimeSpan.FromMinutes(2), cancellationToken);
        }
        catch (BenchException)
        {
            // Reported below as runs that did not complete.
        }

        var integrity = await RunIntegrity.ReadAsync(stack.Database, inFlight);
        return new Outcome(
            round.Name, inFlight.Length, restartSeconds, new Distribution(moved.Values.Select(at => (at - killedUtc).TotalMilliseconds)),
            moved.Count, integrity.Completed, integrity.DuplicateSteps, integrity.AuditMismatches, integrity.Superseded);
    }

    private static async Task WaitForFirstStepsAsync(NpgsqlDataSource database, Guid[] ids, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 300; i++)
        {
            await using var command = database.CreateCommand(
                "SELECT count(DISTINCT run_id) FROM steps WHERE run_id = ANY($1) AND status = 'completed'");
            command.Parameters.Add(new() { Value = ids });
            if ((long)(await command.ExecuteScalarAsync(cancellationToken))! >= ids.Length)
            {
                return;
            }

            await Task.Delay(50, cancellationToken);
        }

        throw new BenchException("The runs did not all complete a first step within 15 s.");
    }

    private static async Task<Guid[]> InFlightAsync(NpgsqlDataSource database, Guid[] ids)
    {
        await using var command = database.CreateCommand("SELECT id FROM runs WHERE id = ANY($1) AND status IN ('queued', 'running')");
        command.Parameters.Add(new() { Value = ids });
        await using var reader = await command.ExecuteReaderAsync();
        var inFlight = new List<Guid>();
        while (await reader.ReadAsync())
        {
            inFlight.Add(reader.GetGuid(0));
        }

        return [.. inFlight];
    }

    private static async Task<Dictionary<Guid, long>> LastEventIdsAsync(NpgsqlDataSource database, Guid[] ids)
    {
        await using var command = database.CreateCommand("SELECT run_id, max(id) FROM run_events WHERE run_id = ANY($1) GROUP BY run_id");
        command.Parameters.Add(new() { Value = ids });
        await using var reader = await command.ExecuteReaderAsync();
        var last = new Dictionary<Guid, long>();
        while (await reader.ReadAsync())
        {
            last[reader.GetGuid(0)] = reader.GetInt64(1);
        }

        return last;
    }

    private static async Task<List<(Guid RunId, DateTime At)>> FirstEventsAfterAsync(NpgsqlDataSource database, Guid[] runs, Dictionary<Guid, long> lastIds)
    {
        await using var command = database.CreateCommand(
            "SELECT e.run_id, min(coalesce(pg_xact_commit_timestamp(e.xmin), e.created_at)) FROM run_events e " +
            "JOIN unnest($1::uuid[], $2::bigint[]) AS k(run_id, last_id) ON e.run_id = k.run_id AND e.id > k.last_id GROUP BY e.run_id");
        command.Parameters.Add(new() { Value = runs });
        command.Parameters.Add(new() { Value = runs.Select(r => lastIds.GetValueOrDefault(r)).ToArray() });
        await using var reader = await command.ExecuteReaderAsync();
        var moved = new List<(Guid, DateTime)>();
        while (await reader.ReadAsync())
        {
            moved.Add((reader.GetGuid(0), reader.GetDateTime(1)));
        }

        return moved;
    }
}
