using System.Diagnostics;
using System.Text;
using Npgsql;
using Qlaw.Bench.Clients;
using Qlaw.Bench.Measure;
using Qlaw.Bench.Report;
using Qlaw.Bench.Stack;
using static Qlaw.Bench.Report.ReportSection;

namespace Qlaw.Bench.Scenarios;

/// <summary>
/// How much chaos: <see cref="Runs"/> runs started over the first 70 % of <see cref="Window"/> while the server is
/// SIGKILLed and restarted at <see cref="ServerKills"/> random moments, PostgreSQL and Azurite SIGKILLed and restarted
/// once each. <see cref="Seed"/> fixes the moments.
/// </summary>
internal sealed record ChaosPlan(int Runs, int ServerKills, TimeSpan Window, int Seed)
{
    /// <summary>Server settings on top of the chaos profile (the test suite's smaller version shortens waits).</summary>
    public IReadOnlyDictionary<string, string?> ServerSettings { get; init; } = new Dictionary<string, string?>();

    /// <summary>The issue's size: 100 runs, 20 server kills.</summary>
    public static ChaosPlan Full(int seed) => new(100, 20, TimeSpan.FromSeconds(150), seed);

    public static ChaosPlan Quick(int seed) => new(20, 4, TimeSpan.FromSeconds(40), seed);
}

internal enum FaultKind
{
    Server,
    Postgres,
    Azurite,
}

/// <summary>One fault: what was SIGKILLed, when (seconds into the window) and how long until it was serving again.</summary>
internal sealed record Fault(FaultKind Kind, double AtSeconds, double DownSeconds);

/// <summary>What one reconnecting SSE client of a run received, beside what the run's event log holds.</summary>
internal sealed record ChaosStream(Guid RunId, int Connections, bool Done, long[] Received, long[] Logged)
{
    public int Missing => Logged.Except(Received).Count();

    /// <summary>Events received twice, or not after the one before: either breaks "every event exactly once, in order".</summary>
    public int Repeated => Received.Where((id, i) => i > 0 && id <= Received[i - 1]).Count();

    public int Unknown => Received.Except(Logged).Count();
}

internal sealed record ChaosOutcome(
    ChaosPlan Plan, int Accepted, long RunRows, int PostRetries, IReadOnlyList<Fault> Faults, RunIntegrity Integrity,
    IReadOnlyDictionary<string, int> Statuses, long Recovered, IReadOnlyList<ChaosStream> Streams, double Seconds)
{
    public int StreamsDone => Streams.Count(s => s.Done);

    public int Missing => Streams.Sum(s => s.Missing);

    public int Repeated => Streams.Sum(s => s.Repeated);

    public int Unknown => Streams.Sum(s => s.Unknown);

    /// <summary>Every run accepted once and completed, no step or transition twice, every event exactly once in order.</summary>
    public bool Passed =>
        Accepted == Plan.Runs && RunRows == Plan.Runs && Integrity.Completed == Plan.Runs && Integrity.DuplicateSteps == 0
        && Integrity.AuditMismatches == 0 && StreamsDone == Plan.Runs && Missing == 0 && Repeated == 0 && Unknown == 0;

    /// <summary>One line per failed promise, for a test's failure message.</summary>
    public string Describe() => new StringBuilder()
        .Append($"seed {Plan.Seed}: {Accepted}/{Plan.Runs} accepted, {RunRows} run rows, {Integrity.Completed} completed ")
        .Append($"({string.Join(", ", Statuses.Select(s => $"{s.Key} {s.Value}"))}), {Integrity.DuplicateSteps} duplicate steps, ")
        .Append($"{Integrity.AuditMismatches} audit mismatches, streams {StreamsDone} done, {Missing} events missing, {Repeated} repeated or out of order, ")
        .Append($"{Unknown} unknown; faults: {string.Join(", ", Faults.Select(f => $"{f.Kind}@{f.AtSeconds:0.0}s"))}")
        .ToString();
}

/// <summary>
/// The chaos run: runs started and followed by SSE clients that reconnect with <c>Last-Event-ID</c> while the
/// server, PostgreSQL and Azurite are SIGKILLed and restarted; then every run must have completed once, with no step or
/// transition twice, and every client must have received every event of its run exactly once, in order.
/// </summary>
internal static class Chaos
{
    private static readonly TimeSpan Tail = TimeSpan.FromMinutes(5);

    public static async Task<ReportSection> RunAsync(BenchStack stack, ChaosPlan plan, CancellationToken cancellationToken)
    {
        var outcome = await RunOutcomeAsync(stack, plan, cancellationToken);
        var kills = outcome.Faults.Where(f => f.Kind == FaultKind.Server).Select(f => f.DownSeconds * 1000).ToList();
        var restarts = new Distribution(kills);
        string Down(FaultKind kind) => outcome.Faults.FirstOrDefault(f => f.Kind == kind) is { } fault ? $"at {Number(fault.AtSeconds, "0")} s, {Number(fault.DownSeconds)} s down" : "–";
        return new ReportSection(
            "Chaos",
            $"{plan.Runs} runs of `{RunLatency.Workflow}` (turns paced at 250 ms, +5 ms a token) started over {Number(plan.Window.TotalSeconds * 0.7, "0")} s, each with an SSE client " +
            $"that reconnects with `Last-Event-ID` whenever its stream breaks; meanwhile the server is SIGKILLed and restarted at {plan.ServerKills} random moments of a " +
            $"{Number(plan.Window.TotalSeconds, "0")} s window (seed {plan.Seed}), PostgreSQL and Azurite (disk persistence) are SIGKILLed and restarted once each, and the " +
            "server is left running through those. POSTs that fail are retried with the same `Idempotency-Key`. Then the rows are checked: every run once, completed, no step " +
            "completed twice, an audit trail matching the committed steps; and each client's events against its run's event log.")
            .Table(
                ["faults", "server restarts p50 s", "max s", "PostgreSQL", "Azurite", "took s"],
                [[
                    $"{kills.Count} server SIGKILLs" + (outcome.Faults.Any(f => f.Kind != FaultKind.Server) ? ", PostgreSQL, Azurite" : ""),
                    Number(restarts.P50 / 1000), Number(restarts.Max / 1000), Down(FaultKind.Postgres), Down(FaultKind.Azurite), Number(outcome.Seconds, "0"),
                ]])
            .Table(
                ["runs accepted", "run rows", "POST retries", "completed", "duplicate steps", "audit mismatches", "superseded attempts", "re-driven by the reconciler"],
                [[
                    $"{outcome.Accepted}/{plan.Runs}", outcome.RunRows.ToString(), outcome.PostRetries.ToString(),
                    $"{outcome.Integrity.Completed}/{plan.Runs}", outcome.Integrity.DuplicateSteps.ToString(), outcome.Integrity.AuditMismatches.ToString(),
                    outcome.Integrity.Superseded.ToString(), outcome.Recovered.ToString(),
                ]])
            .Table(
                ["streams ended", "connections", "events received", "missing", "repeated or out of order", "not in the log"],
                [[
                    $"{outcome.StreamsDone}/{plan.Runs}", outcome.Streams.Sum(s => s.Connections).ToString(), outcome.Streams.Sum(s => s.Received.Length).ToString(),
                    outcome.Missing.ToString(), outcome.Repeated.ToString(), outcome.Unknown.ToString(),
                ]])
            .Goal(
                $"Chaos: {plan.Runs} runs, {plan.ServerKills} server SIGKILLs, PostgreSQL and Azurite restarted: every run completes once, no duplicate, every event exactly once in order",
                $"{outcome.Integrity.Completed}/{plan.Runs} completed, {outcome.Integrity.DuplicateSteps} duplicate steps, {outcome.Missing + outcome.Repeated} events missed or repeated",
                outcome.Passed);
    }

    /// <summary>Runs the plan on <paramref name="stack"/> (a server of its own, killed and restarted) and checks the result.</summary>
    public static async Task<ChaosOutcome> RunOutcomeAsync(BenchStack stack, ChaosPlan plan, CancellationToken cancellationToken)
    {
        await using var server = await stack.StartServerAsync(ServerProfile.Chaos(plan.ServerSettings));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(plan.Window + Tail);
        var clock = Stopwatch.StartNew();
        var schedule = Schedule(plan);
        var faults = InjectAsync(stack, server, schedule, clock, stop.Token);
        var retries = new int[1];
        var gap = plan.Window * 0.7 / plan.Runs;
        var runs = Enumerable.Range(0, plan.Runs).Select(i => StartAndFollowAsync(server.Http, $"chaos-{plan.Seed}-{i}", gap * i, clock, retries, stop.Token)).ToList();
        var followed = (await Task.WhenAll(runs)).Where(r => r is not null).Select(r => r!).ToList();
        var injected = await faults;

        var ids = followed.Select(r => r.RunId).ToArray();
        try
        {
            await JobThroughput.WaitUntilEndedAsync(stack.Database, ids, TimeSpan.FromSeconds(30), cancellationToken);
        }
        catch (BenchException)
        {
            // Counted below as runs that did not complete.
        }

        var logged = await EventIdsAsync(stack.Database, ids);
        var streams = followed.Select(r => r with { Logged = logged.GetValueOrDefault(r.RunId, []) }).ToList();
        var (rows, statuses, recovered) = await RunsAsync(stack.Database, $"chaos-{plan.Seed}-%", ids);
        return new ChaosOutcome(
            plan, followed.Count, rows, retries[0], injected, await RunIntegrity.ReadAsync(stack.Database, ids), statuses, recovered, streams,
            clock.Elapsed.TotalSeconds);
    }

    /// <summary>The moments of the faults: server kills anywhere in the window, PostgreSQL in its second quarter, Azurite in its third.</summary>
    private static List<(double At, FaultKind Kind)> Schedule(ChaosPlan plan)
    {
        var random = new Random(plan.Seed);
        var window = plan.Window.TotalSeconds;
        var moments = Enumerable.Range(0, plan.ServerKills).Select(_ => (window * (0.05 + 0.85 * random.NextDouble()), FaultKind.Server)).ToList();
        moments.Add((window * (0.25 + 0.25 * random.NextDouble()), FaultKind.Postgres));
        moments.Add((window * (0.5 + 0.25 * random.NextDouble()), FaultKind.Azurite));
        return [.. moments.OrderBy(m => m.Item1)];
    }

    // One fault at a time: each waits for the one before to be serving again.
    private static async Task<List<Fault>> InjectAsync(BenchStack stack, BenchServer server, List<(double At, FaultKind Kind)> schedule, Stopwatch clock, CancellationToken cancellationToken)
    {
        var done = new List<Fault>();
        foreach (var (at, kind) in schedule)
        {
            var wait = TimeSpan.FromSeconds(at) - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            var started = clock.Elapsed;
            switch (kind)
            {
                case FaultKind.Server:
                    server.Kill();
                    await server.RestartAsync();
                    break;
                case FaultKind.Postgres:
                    await stack.KillAndRestartPostgresAsync();
                    break;
                case FaultKind.Azurite:
                    await stack.KillAndRestartAzuriteAsync();
                    break;
            }

            done.Add(new Fault(kind, started.TotalSeconds, (clock.Elapsed - started).TotalSeconds));
        }

        return done;
    }

    // Starts a run at its moment, retrying the POST (same Idempotency-Key) until the server takes it, then follows it.
    private static async Task<ChaosStream?> StartAndFollowAsync(HttpClient http, string key, TimeSpan at, Stopwatch clock, int[] retries, CancellationToken cancellationToken)
    {
        try
        {
            var wait = at - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            Guid? runId;
            while ((runId = await TryStartAsync(http, key, cancellationToken)) is null)
            {
                Interlocked.Increment(ref retries[0]);
                await Task.Delay(250, cancellationToken);
            }

            return await FollowAsync(http, runId.Value, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    private static async Task<Guid?> TryStartAsync(HttpClient http, string key, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            var (status, runId, body) = await new QlawApi(http).PostRunAsync(RunLatency.Workflow, "add two numbers", key, timeout.Token);

            // A 5xx (a 503 while PostgreSQL is away) is retried; anything else is the bench's mistake.
            if (runId is null && (int)status < 500)
            {
                throw new BenchException($"Starting a run answered {(int)status}: {body}");
            }

            return runId;
        }
        catch (Exception ex) when (SseReader.IsConnectionFailure(ex) || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return null;
        }
    }

    // Reads the run's stream until the server ends it with [DONE], reconnecting after the last event received.
    private static async Task<ChaosStream> FollowAsync(HttpClient http, Guid runId, CancellationToken cancellationToken)
    {
        var received = new List<long>();
        var connections = 0;
        var done = false;
        while (!done && !cancellationToken.IsCancellationRequested)
        {
            if (connections > 0)
            {
                await Task.Delay(250, CancellationToken.None);
            }

            connections++;
            var reading = await SseReader.ReadAsync(http, $"/v1/runs/{runId}/responses", cancellationToken, lastEventId: received.Count > 0 ? received[^1] : null);
            received.AddRange(reading.Frames.Select(f => f.Id));
            done = reading.SawDone && reading.Failure is null;
        }

        return new ChaosStream(runId, connections, done, [.. received], []);
    }

    private static async Task<Dictionary<Guid, long[]>> EventIdsAsync(NpgsqlDataSource database, Guid[] runs)
    {
        await using var command = database.CreateCommand("SELECT run_id, array_agg(id ORDER BY id) FROM run_events WHERE run_id = ANY($1) GROUP BY run_id");
        command.Parameters.Add(new() { Value = runs });
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new Dictionary<Guid, long[]>();
        while (await reader.ReadAsync())
        {
            ids[reader.GetGuid(0)] = reader.GetFieldValue<long[]>(1);
        }

        return ids;
    }

    private static async Task<(long Rows, Dictionary<string, int> Statuses, long Recovered)> RunsAsync(NpgsqlDataSource database, string keys, Guid[] runs)
    {
        await using var command = database.CreateCommand(
            "SELECT status, count(*), (SELECT count(*) FROM audit_logs WHERE run_id = ANY($2) AND type = 'run.recovered') FROM runs WHERE idempotency_key LIKE $1 GROUP BY status");
        command.Parameters.Add(new() { Value = keys });
        command.Parameters.Add(new() { Value = runs });
        await using var reader = await command.ExecuteReaderAsync();
        var statuses = new Dictionary<string, int>();
        long recovered = 0;
        while (await reader.ReadAsync())
        {
            statuses[reader.GetString(0)] = (int)reader.GetInt64(1);
            recovered = reader.GetInt64(2);
        }

        return (statuses.Values.Sum(), statuses, recovered);
    }
}
