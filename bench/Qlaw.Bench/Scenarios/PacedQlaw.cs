using System.Data.Common;
using System.Globalization;
using System.Text.Json.Nodes;
using Npgsql;
using Qlaw.Bench.Clients;
using Qlaw.Bench.Measure;
using Qlaw.Bench.Stack;
using Qlaw.FakeModel;

namespace Qlaw.Bench.Scenarios;

/// <summary>
/// Qlaw's half of the paced scenario: a 3-agent chain on the paced model, one run at a time, then waves of runs started
/// together, each timed from its first POST to its last run's <c>completed_at</c>.
/// </summary>
internal static class PacedQlaw
{
    public const string Workflow = "bench-paced";

    /// <summary>POSTs in flight at once when a wave starts: the bench's own client is not what is measured.</summary>
    public const int StartConcurrency = 64;

    public static async Task<(double AloneSeconds, List<PacedWave> Waves)> RunAsync(
        BenchStack stack, BenchServer server, FakeOpenAIServer model, BenchScale scale, Action<string> log, CancellationToken cancellationToken)
    {
        var api = new QlawApi(server.Http);
        await api.CreateWorkflowAsync(Definition(), cancellationToken);

        // One run first, untimed: the run path's first compilations and connections.
        await OneAsync(stack.Database, api, cancellationToken);
        var alone = new List<double>();
        for (var i = 0; i < scale.PacedAloneRuns; i++)
        {
            alone.Add(await OneAsync(stack.Database, api, cancellationToken));
        }

        var aloneSeconds = new Distribution(alone).P50;
        log($"Qlaw: one run alone {aloneSeconds:0.00} s (median of {alone.Count})");
        var poolMax = PoolMax(server.Setting("ConnectionStrings:Postgres") ?? stack.PostgresConnection);
        var processes = new StackProcesses(server.ProcessId, stack.PostgresProcessId, stack.AzuriteProcessIds);
        var waves = new List<PacedWave>();
        foreach (var runs in scale.PacedWaves)
        {
            await CpuWindow.WaitUntilIdleAsync(server.ProcessId, TimeSpan.FromSeconds(30), cancellationToken);
            var wave = await WaveAsync(stack.Database, api, model, processes, runs, poolMax, scale.PacedWaveLimit, cancellationToken);
            waves.Add(wave);
            log($"Qlaw: {runs} runs together: {wave.Completed} completed, {wave.Failed} failed in {wave.Seconds:0.0} s{(wave.TimedOut ? " (timed out)" : "")}");
            if (wave.TimedOut)
            {
                break;
            }
        }

        return (aloneSeconds, waves);
    }

    /// <summary>planner → coder → judge on the <c>openai</c> endpoint: the fake hands off down the chain and completes at the judge.</summary>
    public static JsonObject Definition()
    {
        JsonObject Agent(string name, params string[] handoffs) => new()
        {
            ["name"] = name,
            ["role"] = name,
            ["handoffs"] = new JsonArray([.. handoffs.Select(h => JsonValue.Create(h))]),
        };

        return new JsonObject
        {
            ["name"] = Workflow,
            ["description"] = "Benchmark load: three agents in a chain on a model that answers at a real model's pace.",
            ["start_agent"] = "planner",
            ["agents"] = new JsonArray(Agent("planner", "coder"), Agent("coder", "judge"), Agent("judge")),
            ["limits"] = new JsonObject { ["max_steps"] = 10 },
            ["model"] = new JsonObject { ["provider"] = "openai" },
        };
    }

    // Seconds from the POST to the run's completed_at.
    private static async Task<double> OneAsync(NpgsqlDataSource database, QlawApi api, CancellationToken cancellationToken)
    {
        var postedAt = BenchClock.Now;
        Guid[] ids = [await api.StartRunAsync(Workflow, cancellationToken)];
        if (!await WaitUntilEndedAsync(database, ids, TimeSpan.FromMinutes(1), 100, cancellationToken) || await OutcomeAsync(database, ids) is not { Completed: 1 } outcome)
        {
            throw new BenchException($"A paced run did not complete within a minute: {await api.DescribeAsync(ids[0])}");
        }

        return (outcome.LastEndedAt - BenchClock.ToUtc(postedAt)).TotalSeconds;
    }

    private static async Task<PacedWave> WaveAsync(
        NpgsqlDataSource database, QlawApi api, FakeOpenAIServer model, StackProcesses processes, int runs, int poolMax, TimeSpan limit, CancellationToken cancellationToken)
    {
        model.ResetPeakInFlight();
        await using var sampler = WaveSampler.Start(processes.Server, database, ServerProfile.PacedApplicationName);
        var cpu = CpuWindow.Start(processes);
        var startedAt = BenchClock.Now;
        var ids = await ClosedLoop.MapAsync(Enumerable.Range(0, runs), StartConcurrency, _ => api.StartRunAsync(Workflow, cancellationToken), cancellationToken);
        var postedSeconds = Elapsed(startedAt).TotalSeconds;
        var ended = await WaitUntilEndedAsync(database, ids, limit - Elapsed(startedAt), 250, cancellationToken);
        var usage = cpu.Stop();
        var peaks = await sampler.StopAsync();
        var outcome = await OutcomeAsync(database, ids);
        var lastEnded = (outcome.LastEndedAt - BenchClock.ToUtc(startedAt)).TotalSeconds;
        return new PacedWave(
            runs, outcome.Completed, outcome.Failed, ended ? lastEnded : Elapsed(startedAt).TotalSeconds, postedSeconds, lastEnded, !ended, model.PeakInFlight, outcome.Waited,
            peaks, poolMax, usage.ToString())
        {
            Turns = await JobThroughput.TurnDurationsAsync(database, ids, cancellationToken),
            Gaps = await JobThroughput.GapsAsync(database, ids, cancellationToken),
            NotEnded = ended ? null : await DescribeNotEndedAsync(database, api, ids),
        };
    }

    // How many runs had not ended, and what the server says of the first few.
    private static async Task<string> DescribeNotEndedAsync(NpgsqlDataSource database, QlawApi api, Guid[] ids)
    {
        await using var command = database.CreateCommand("SELECT id FROM runs WHERE id = ANY($1) AND status NOT IN ('completed', 'failed', 'cancelled') ORDER BY id");
        command.Parameters.Add(new() { Value = ids });
        var open = new List<Guid>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                open.Add(reader.GetGuid(0));
            }
        }

        var described = await Task.WhenAll(open.Take(3).Select(async id => $"{id}: {await api.DescribeAsync(id)}"));
        return $"{open.Count} not ended; {string.Join("; ", described)}";
    }

    private static TimeSpan Elapsed(long since) => TimeSpan.FromMilliseconds(BenchClock.Milliseconds(since, BenchClock.Now));

    // Polls PostgreSQL until every run has ended; false at the limit.
    private static async Task<bool> WaitUntilEndedAsync(NpgsqlDataSource database, Guid[] ids, TimeSpan limit, int everyMs, CancellationToken cancellationToken)
    {
        var deadline = BenchClock.Now + (long)(limit.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        while (await EventLog.EndedAsync(database, ids) < ids.Length)
        {
            if (BenchClock.Now > deadline)
            {
                return false;
            }

            await Task.Delay(everyMs, cancellationToken);
        }

        return true;
    }

    private sealed record Outcome(int Completed, int Failed, DateTime LastEndedAt, long Waited);

    // A failed run has its completed_at too: the moment it ended. Turns that waited for a model slot leave a model.waiting audit entry.
    private static async Task<Outcome> OutcomeAsync(NpgsqlDataSource database, Guid[] ids)
    {
        await using var command = database.CreateCommand(
            "SELECT count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed'), coalesce(max(completed_at), now()), " +
            "(SELECT count(*) FROM audit_logs WHERE run_id = ANY($1) AND type = 'model.waiting') FROM runs WHERE id = ANY($1)");
        command.Parameters.Add(new() { Value = ids });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new Outcome((int)reader.GetInt64(0), (int)reader.GetInt64(1), reader.GetDateTime(2), reader.GetInt64(3));
    }

    /// <summary>The server's PostgreSQL pool at most: what its connection string says, else the server's own default.</summary>
    public static int PoolMax(string connectionString)
    {
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString };
        foreach (var keyword in (string[])["Maximum Pool Size", "Max Pool Size", "MaxPoolSize"])
        {
            if (given.TryGetValue(keyword, out var value))
            {
                return Convert.ToInt32(value, CultureInfo.InvariantCulture);
            }
        }

        return Qlaw.Core.QlawCoreExtensions.DefaultMaxPoolSize;
    }
}
