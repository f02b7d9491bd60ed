using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Qlaw.Core.Configuration;
using Qlaw.Data;
using Qlaw.Data.Runs;

namespace Qlaw.Core.RunStore;

/// <summary>
/// Writes the streamed text of every attempt this process runs: what all of them streamed during one window
/// (<c>Streaming:DeltaWindowMs</c>) goes in one batch — one round trip and one commit however many turns stream — so
/// that a server streaming hundreds of turns writes as often as one streaming a single turn, each write carrying more.
/// A write that takes longer than the window gathers more for the next. Each attempt's text is written under its run's
/// lock (all the batch's runs, locked in key order, so two batches never wait on each other) and only while its step
/// row still runs: an attempt found stopped (cancelled, superseded) hears so at its next delta.
/// </summary>
public sealed partial class DeltaBatcher(
    NpgsqlDataSource dataSource, DbContextOptions<QlawDbContext> model, IRunEventPublisher hub, IOptionsMonitor<StreamingOptions> streaming, TimeProvider clock,
    ILogger<DeltaBatcher> logger) : BackgroundService
{
    private readonly EntityRows<RunEventEntity> _events = EventRows(model);
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _signal = new(0);
    private List<DeltaBuffer> _queued = [];

    /// <summary>A buffer for the text of the running attempt <paramref name="attempt"/> of the run's step.</summary>
    public DeltaBuffer Open(Guid runId, int step, int attempt, string agent) => new(this, runId, step, attempt, agent);

    internal void Enqueue(DeltaBuffer buffer)
    {
        bool first;
        lock (_lock)
        {
            _queued.Add(buffer);
            first = _queued.Count == 1;
        }

        if (first)
        {
            _signal.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (true)
            {
                await _signal.WaitAsync(stoppingToken);
                if (streaming.CurrentValue.DeltaWindowMs is > 0 and var window)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(window), clock, stoppingToken);
                }

                if (!await WriteQueuedAsync(stoppingToken))
                {
                    // PostgreSQL is away: what was taken went back to its buffers; try again in a moment.
                    await Task.Delay(TimeSpan.FromSeconds(1), clock, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: what is left is written once more, as the turns that own it end.
            await WriteQueuedAsync(CancellationToken.None);
        }
    }

    // Takes every queued buffer's text and writes it; false when the write failed (the text went back).
    private async Task<bool> WriteQueuedAsync(CancellationToken cancellationToken)
    {
        List<DeltaBuffer> queued;
        lock (_lock)
        {
            (queued, _queued) = (_queued, []);
        }

        var batch = new List<(DeltaBuffer Buffer, string Text)>(queued.Count);
        foreach (var buffer in queued)
        {
            if (buffer.Take() is { } text)
            {
                batch.Add((buffer, text));
            }
        }

        if (batch.Count == 0)
        {
            return true;
        }

        try
        {
            var inserted = await WriteAsync(batch, cancellationToken);
            foreach (var (buffer, _) in batch)
            {
                buffer.Written(inserted.Contains((buffer.RunId, buffer.Step, buffer.Attempt)));
            }

            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            LogWriteFailed(logger, batch.Count, ex);
            foreach (var (buffer, text) in batch)
            {
                buffer.Failed(text);
            }

            return false;
        }
    }

    // One round trip: the runs' locks, the last event id of each run a stream of this process follows (for the
    // hand-over), and every attempt's row, inserted only while the attempt's step runs.
    private async Task<HashSet<(Guid, int, int)>> WriteAsync(List<(DeltaBuffer Buffer, string Text)> batch, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var rows = batch.Select(b => RunEvents.Delta(b.Buffer.RunId, b.Buffer.Step, b.Buffer.Attempt, b.Buffer.Agent, b.Text, now)).ToList();
        var runs = rows.Select(r => r.RunId).Distinct().ToArray();
        var followed = runs.Where(hub.Follows).ToArray();

        await using var command = dataSource.CreateBatch();
        command.BatchCommands.Add(RunLog.Command(
            $"SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT {RunLog.LockKey("r")} AS k FROM unnest($1::uuid[]) AS r) AS keys ORDER BY k", runs));
        if (followed.Length > 0)
        {
            command.BatchCommands.Add(RunLog.Command("SELECT r, (SELECT coalesce(max(id), 0) FROM run_events WHERE run_id = r) FROM unnest($1::uuid[]) AS r", followed));
        }

        var (sql, values) = _events.InsertMany(
            rows,
            "EXISTS (SELECT 1 FROM steps s WHERE s.run_id = d.\"run_id\" AND s.\"index\" = d.\"step_index\" AND s.attempt = d.\"attempt\" AND s.status = 'running')",
            "id, run_id, step_index, attempt, data::text");
        command.BatchCommands.Add(RunLog.Command(sql, values));

        var previous = new Dictionary<Guid, long>();
        var inserted = new HashSet<(Guid, int, int)>();
        var published = new Dictionary<Guid, List<RunEventRow>>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            await reader.NextResultAsync(cancellationToken);
            if (followed.Length > 0)
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    previous[reader.GetGuid(0)] = reader.GetInt64(1);
                }

                await reader.NextResultAsync(cancellationToken);
            }

            while (await reader.ReadAsync(cancellationToken))
            {
                var runId = reader.GetGuid(1);
                inserted.Add((runId, reader.GetInt32(2), reader.GetInt32(3)));
                if (previous.ContainsKey(runId))
                {
                    (published.TryGetValue(runId, out var list) ? list : published[runId] = []).Add(new(reader.GetInt64(0), RunEvents.TextDelta, reader.GetString(4)));
                }
            }
        }

        // The batch's implicit transaction committed when its reader was done.
        foreach (var (runId, list) in published)
        {
            hub.Publish(runId, previous[runId], list);
        }

        return inserted;
    }

    // The events' INSERT by EF Core's model (a context of the pool's options, only to read the model it shares).
    private static EntityRows<RunEventEntity> EventRows(DbContextOptions<QlawDbContext> options)
    {
        using var db = new QlawDbContext(options);
        return EntityRows.Of<RunEventEntity>(db.Model);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write the streamed text of {Attempts} attempts; it is kept and written again")]
    private static partial void LogWriteFailed(ILogger logger, int attempts, Exception exception);
}
