using Npgsql;

namespace Qlaw.Bench.Measure;

/// <summary>An event of a run's log as PostgreSQL committed it.</summary>
internal readonly record struct CommittedEvent(long Id, Guid RunId, bool IsDelta, DateTime CommittedAt);

/// <summary>Reads what the server wrote, after the fact: event commit times, run and step rows.</summary>
internal static class EventLog
{
    /// <summary>Every event of the runs with its commit time (<c>pg_xact_commit_timestamp</c>; <c>created_at</c> if unknown).</summary>
    public static async Task<Dictionary<long, CommittedEvent>> ReadAsync(NpgsqlDataSource database, IReadOnlyCollection<Guid> runIds)
    {
        await using var command = database.CreateCommand(
            "SELECT id, run_id, type = 'response.output_text.delta', coalesce(pg_xact_commit_timestamp(xmin), created_at) FROM run_events WHERE run_id = ANY($1)");
        command.Parameters.Add(new() { Value = runIds.ToArray() });
        await using var reader = await command.ExecuteReaderAsync();
        var events = new Dictionary<long, CommittedEvent>();
        while (await reader.ReadAsync())
        {
            var id = reader.GetInt64(0);
            events[id] = new CommittedEvent(id, reader.GetGuid(1), reader.GetBoolean(2), reader.GetDateTime(3));
        }

        return events;
    }

    /// <summary>The highest event id of the run so far (0 when none).</summary>
    public static async Task<long> LastIdAsync(NpgsqlDataSource database, Guid runId)
    {
        await using var command = database.CreateCommand("SELECT coalesce(max(id), 0) FROM run_events WHERE run_id = $1");
        command.Parameters.Add(new() { Value = runId });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>How many of the runs have ended (completed, failed or cancelled).</summary>
    public static async Task<int> EndedAsync(NpgsqlDataSource database, Guid[] runIds)
    {
        await using var command = database.CreateCommand(
            "SELECT count(*) FROM runs WHERE id = ANY($1) AND status IN ('completed', 'failed', 'cancelled')");
        command.Parameters.Add(new() { Value = runIds });
        return (int)(long)(await command.ExecuteScalarAsync())!;
    }
}
