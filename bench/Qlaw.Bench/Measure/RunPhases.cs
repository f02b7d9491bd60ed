using Npgsql;

namespace Qlaw.Bench.Measure;

/// <summary>
/// A run as a client timed it: when it was posted, when its stream's first event and first text delta arrived, and when
/// its stream closed (<see cref="BenchClock"/>).
/// </summary>
internal sealed record ClientRun(Guid RunId, long PostedAt, long FirstEventAt, long FirstDeltaAt, long ClosedAt);

/// <summary>
/// Where a run's time goes, from the rows the server wrote: the POST until the run row's timestamp, until the first
/// turn began (scheduling and the engine's first hop), the turns themselves (journal writes and the model), the hops
/// between turns (the engine), the last turn until the run was marked completed, until that transaction committed (the
/// run is completed for every reader from then on: <c>pg_xact_commit_timestamp</c> of the run row), and from the commit
/// until the client's stream closed. The first turn is split too: from its beginning until its first text delta was
/// committed (the attempt's row, the agent and the model's first token, the delta's own transaction), and from that
/// commit until the client received it (the notification, the stream's read, the socket). Medians over the runs,
/// milliseconds; turns and hops are means within a run.
/// </summary>
internal sealed record RunPhases(RunPhase Median, RunPhase Slowest)
{
    public static async Task<RunPhases> ReadAsync(NpgsqlDataSource database, IReadOnlyList<ClientRun> runs)
    {
        await using var command = database.CreateCommand(
            """
            SELECT r.id, r.created_at, r.completed_at, coalesce(pg_xact_commit_timestamp(r.xmin), r.completed_at),
                   array_agg(s.started_at ORDER BY s."index"), array_agg(s.completed_at ORDER BY s."index"),
                   (SELECT coalesce(pg_xact_commit_timestamp(e.xmin), e.created_at) FROM run_events e
                    WHERE e.run_id = r.id AND e.type = 'response.output_text.delta' ORDER BY e.id LIMIT 1)
            FROM runs r JOIN steps s ON s.run_id = r.id AND s.status = 'completed'
            WHERE r.id = ANY($1) GROUP BY r.id, r.created_at, r.completed_at, r.xmin
            """);
        command.Parameters.Add(new() { Value = runs.Select(r => r.RunId).ToArray() });
        var byId = runs.ToDictionary(r => r.RunId);
        var phases = new List<(ClientRun Run, double[] Phases)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var run = byId[reader.GetGuid(0)];
            var (created, completed, committed) = (reader.GetDateTime(1), reader.GetDateTime(2), reader.GetDateTime(3));
            var (started, ended) = (reader.GetFieldValue<DateTime[]>(4), reader.GetFieldValue<DateTime[]>(5));
            var firstDelta = reader.GetDateTime(6);
            phases.Add((run,
            [
                (created - BenchClock.ToUtc(run.PostedAt)).TotalMilliseconds,
                (started[0] - created).TotalMilliseconds,
                started.Zip(ended, (s, e) => (e - s).TotalMilliseconds).Average(),
                started.Skip(1).Zip(ended, (next, previous) => (next - previous).TotalMilliseconds).DefaultIfEmpty(double.NaN).Average(),
                (completed - ended[^1]).TotalMilliseconds,
                (committed - completed).TotalMilliseconds,
                (BenchClock.ToUtc(run.ClosedAt) - committed).TotalMilliseconds,
                (firstDelta - started[0]).TotalMilliseconds,
                (BenchClock.ToUtc(run.FirstDeltaAt) - firstDelta).TotalMilliseconds,
            ]));
        }

        double Median(int i) => new Distribution(phases.Select(p => p.Phases[i])).P50;
        var slowest = phases.MaxBy(p => p.Run.ClosedAt - p.Run.PostedAt).Phases;
        return new RunPhases(RunPhase.Of(Median), RunPhase.Of(i => slowest[i]));
    }
}

/// <summary>One run's phases, or their medians over runs (milliseconds; turns and hops are means within a run).</summary>
internal sealed record RunPhase(
    double Created, double FirstTurn, double Turn, double Hop, double Finish, double Commit, double StreamClosed,
    double FirstDeltaCommitted, double FirstDeltaReceived)
{
    /// <summary>The phases in the order <see cref="RunPhases.ReadAsync"/> measures them: <paramref name="phase"/>(0) … (8).</summary>
    public static RunPhase Of(Func<int, double> phase) =>
        new(phase(0), phase(1), phase(2), phase(3), phase(4), phase(5), phase(6), phase(7), phase(8));
}
