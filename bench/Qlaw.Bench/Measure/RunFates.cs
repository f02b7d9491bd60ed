using Npgsql;

namespace Qlaw.Bench.Measure;

/// <summary>When one run was dead-lettered, abandoned and deleted, as far as polling has seen; null until then.</summary>
internal sealed class RunFate
{
    /// <summary>Its <c>updated_at</c> while failed with no end: the dead letter's commit.</summary>
    public DateTime? DeadLetteredAt { get; set; }

    /// <summary>Its <c>completed_at</c> once failed for good: the abandonment.</summary>
    public DateTime? AbandonedAt { get; set; }

    /// <summary>The first poll that no longer found its row (so up to one poll late).</summary>
    public DateTime? GoneAt { get; set; }

    /// <summary>A status no failing run should reach (completed, cancelled, awaiting input), else null.</summary>
    public string? Other { get; set; }

    public bool Seen { get; set; }
}

/// <summary>
/// What became of every run of one workflow, polled from PostgreSQL: each run's dead letter (failed with no end),
/// abandonment (failed and ended) and deletion (its row gone), with the times PostgreSQL recorded.
/// </summary>
internal sealed class RunFates(NpgsqlDataSource database, string workflow)
{
    private readonly Dictionary<Guid, RunFate> _fates = [];

    /// <summary>A run the server accepted (202).</summary>
    public void Accepted(Guid runId)
    {
        lock (_fates)
        {
            _fates.TryAdd(runId, new RunFate());
        }
    }

    /// <summary>Every run accepted so far, with what polling has seen of it.</summary>
    public IReadOnlyList<(Guid RunId, RunFate Fate)> All()
    {
        lock (_fates)
        {
            return [.. _fates.Select(f => (f.Key, f.Value))];
        }
    }

    /// <summary>The most runs seen active at once: queued, running or dead-lettered (failed with no end).</summary>
    public int PeakActive { get; private set; }

    /// <summary>The most runs seen dead-lettered at once.</summary>
    public int PeakDeadLettered { get; private set; }

    /// <summary>Reads the workflow's run rows once and records what changed since the last poll.</summary>
    public async Task PollAsync(CancellationToken cancellationToken)
    {
        var present = new HashSet<Guid>();
        await using var command = database.CreateCommand(
            "SELECT r.id, r.status, r.updated_at, r.completed_at FROM runs r JOIN workflows w ON w.id = r.workflow_id WHERE w.name = $1");
        command.Parameters.Add(new() { Value = workflow });
        var rows = new List<(Guid Id, string Status, DateTime UpdatedAt, DateTime? CompletedAt)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add((reader.GetGuid(0), reader.GetString(1), reader.GetDateTime(2), reader.IsDBNull(3) ? null : reader.GetDateTime(3)));
            }
        }

        var now = BenchClock.ToUtc(BenchClock.Now);
        PeakActive = Math.Max(PeakActive, rows.Count(r => r.Status is "queued" or "running" || (r.Status == "failed" && r.CompletedAt is null)));
        PeakDeadLettered = Math.Max(PeakDeadLettered, rows.Count(r => r.Status == "failed" && r.CompletedAt is null));
        lock (_fates)
        {
            foreach (var (id, status, updatedAt, completedAt) in rows)
            {
                present.Add(id);
                var fate = _fates.TryGetValue(id, out var known) ? known : _fates[id] = new RunFate();
                fate.Seen = true;
                switch (status, completedAt)
                {
                    case ("failed", null):
                        fate.DeadLetteredAt ??= updatedAt;
                        break;
                    case ("failed", { } ended):
                        fate.AbandonedAt ??= ended;
                        break;
                    case ("queued" or "running", _):
                        break;
                    default:
                        fate.Other ??= status;
                        break;
                }
            }

            // Only a run seen before can be gone: one accepted after the rows were read is not yet in them.
            foreach (var (id, fate) in _fates)
            {
                if (fate.Seen && fate.GoneAt is null && !present.Contains(id))
                {
                    fate.GoneAt = now;
                }
            }
        }
    }
}
