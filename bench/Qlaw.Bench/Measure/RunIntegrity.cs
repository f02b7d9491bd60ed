using Npgsql;

namespace Qlaw.Bench.Measure;

/// <summary>
/// What crashes must not do to runs, read from their rows: how many completed, steps completed twice, runs whose
/// audit trail does not match their committed steps, and attempts superseded by a restart.
/// </summary>
internal sealed record RunIntegrity(int Completed, long DuplicateSteps, long AuditMismatches, long Superseded)
{
    /// <summary>
    /// A run's audit matches when it has one <c>step.completed</c> per completed step, one <c>handoff</c> or
    /// <c>return</c> per transition between them, one <c>run.started</c> and at most one <c>run.completed</c>
    /// (one when it completed).
    /// </summary>
    public static async Task<RunIntegrity> ReadAsync(NpgsqlDataSource database, Guid[] runs)
    {
        await using var command = database.CreateCommand(
            """
            WITH r AS (
              SELECT r.id, r.status,
                (SELECT count(*) FROM steps s WHERE s.run_id = r.id AND s.status = 'completed') AS steps,
                (SELECT count(*) FROM audit_logs a WHERE a.run_id = r.id AND a.type = 'step.completed') AS step_audits,
                (SELECT count(*) FROM audit_logs a WHERE a.run_id = r.id AND a.type IN ('handoff', 'return')) AS transition_audits,
                (SELECT count(*) FROM audit_logs a WHERE a.run_id = r.id AND a.type = 'run.started') AS started_audits,
                (SELECT count(*) FROM audit_logs a WHERE a.run_id = r.id AND a.type = 'run.completed') AS completed_audits
              FROM runs r WHERE r.id = ANY($1))
            SELECT
              (SELECT count(*) FROM r WHERE status = 'completed'),
              (SELECT count(*) FROM (SELECT 1 FROM steps WHERE run_id = ANY($1) AND status = 'completed' GROUP BY run_id, "index" HAVING count(*) > 1) d),
              (SELECT count(*) FROM r WHERE step_audits <> steps OR started_audits <> 1
                 OR (status = 'completed' AND (completed_audits <> 1 OR transition_audits <> steps - 1))
                 OR (status <> 'completed' AND completed_audits <> 0)),
              (SELECT count(*) FROM steps WHERE run_id = ANY($1) AND status = 'superseded')
            """);
        command.Parameters.Add(new() { Value = runs });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new RunIntegrity((int)reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
    }
}
