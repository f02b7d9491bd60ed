using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using NpgsqlTypes;
using Qlaw.Contracts;
using Qlaw.Core.Streaming;
using Qlaw.Data;
using Qlaw.Data.Runs;

namespace Qlaw.Core.RunStore;

/// <summary>
/// The one way a run's rows are written. Every write of a run — step rows, handoffs, audit, <c>run_events</c>, the
/// run's status — happens in a <see cref="RunLogWrite"/> that holds the run's advisory lock from before its first row
/// until it commits. So one writer per run at a time, and a run's event ids (the SSE ids, which readers tail with
/// <c>id &gt; last</c>) commit in id order. New <c>run_events</c> rows announce themselves: a row trigger sends
/// <c>NOTIFY</c> (<see cref="RunEventNotifications.Channel"/>), delivered on commit, at no extra round trip; and
/// this process's own streams get them from the writer as soon as it committed (<see cref="RunEventHub.Publish"/>).
/// </summary>
public sealed class RunLog(QlawDbContext db, TimeProvider clock, RunEventHub hub)
{
    /// <summary>
    /// Begins a write of <paramref name="runId"/>'s rows: a transaction holding the run's lock, on a context that tracks
    /// nothing yet (entities loaded before are detached).
    /// </summary>
    public async Task<RunLogWrite> OpenAsync(Guid runId, CancellationToken cancellationToken) =>
        (await OpenAsync(runId, [], static (_, _) => Task.FromResult(true), cancellationToken)).Write;

    /// <summary>
    /// Begins a write as <see cref="OpenAsync(Guid, CancellationToken)"/> does, without a round trip: the lock is the
    /// first statement of the write's batch, sent with its rows and its commit. For a write that reads nothing first and
    /// states what it relies on with <see cref="RunLogWrite.Expect"/> instead.
    /// </summary>
    public async Task<RunLogWrite> BeginAsync(Guid runId, CancellationToken cancellationToken)
    {
        var transaction = await BeginTransactionAsync(cancellationToken);
        var write = new RunLogWrite(db, transaction, runId, clock.GetUtcNow(), hub);
        write.StageRows(LockCommand(runId), null);
        return write;
    }

    /// <summary>The SQLSTATE of a failed <see cref="RunLogWrite.Expect"/> (raised by <c>qlaw_expect</c>).</summary>
    public const string ExpectationFailed = "QL001";

    private async Task<IDbContextTransaction> BeginTransactionAsync(CancellationToken cancellationToken)
    {
        // Rows tracked by an earlier unit of work may be stale: what this one reads under the lock is read afresh.
        db.ChangeTracker.Clear();

        // A failed save abandons the whole unit of work, so EF Core's savepoint around each save (two round trips) buys nothing.
        db.Database.AutoSavepointsEnabled = false;
        return await db.Database.BeginTransactionAsync(cancellationToken);
    }

    /// <summary>
    /// Begins a write as <see cref="OpenAsync(Guid, CancellationToken)"/> does, with <paramref name="reads"/> sent in
    /// the same round trip as the lock: each statement of a batch takes its snapshot when it starts, after the lock is
    /// held, so the reads see every write of the run committed before. <paramref name="read"/> gets the reader at the
    /// first read's rows.
    /// </summary>
    public async Task<(RunLogWrite Write, T Read)> OpenAsync<T>(
        Guid runId, NpgsqlBatchCommand[] reads, Func<NpgsqlDataReader, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        var transaction = await BeginTransactionAsync(cancellationToken);
        try
        {
            await using var batch = new NpgsqlBatch((NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)transaction.GetDbTransaction());
            batch.BatchCommands.Add(LockCommand(runId));
            foreach (var command in reads)
            {
                batch.BatchCommands.Add(command);
            }

            T result;
            await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
            {
                await reader.NextResultAsync(cancellationToken);
                result = await read(reader, cancellationToken);
            }

            return (new RunLogWrite(db, transaction, runId, clock.GetUtcNow(), hub), result);
        }
        catch
        {
            await transaction.DisposeAsync();
            throw;
        }
    }

    /// <summary>A <c>run_events</c> row's values, in the column order <c>run_id, type, data, step_index, attempt, created_at</c>.</summary>
    internal static NpgsqlParameter[] EventValues(RunEventEntity row) =>
    [
        new() { Value = row.RunId },
        new() { Value = row.Type },
        Jsonb(row.Data),
        new() { Value = (object?)row.StepIndex ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer },
        new() { Value = (object?)row.Attempt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer },
        new() { Value = row.CreatedAt },
    ];

    /// <summary>A <c>jsonb</c> parameter holding <paramref name="json"/> as it is.</summary>
    internal static NpgsqlParameter Jsonb(string? json) => new() { Value = (object?)json ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Jsonb };

    // Takes the run's advisory lock until the transaction ends (the same key from every writer).
    private static NpgsqlBatchCommand LockCommand(Guid runId)
    {
        var command = new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))");
        command.Parameters.Add(new() { Value = runId });
        return command;
    }

    /// <summary>What an event's <c>INSERT</c> returns: its id and its data as every reader reads it (<c>jsonb</c>'s text).</summary>
    internal const string InsertedEvent = "RETURNING id, data::text";

    internal static RunEventRow InsertedRow(NpgsqlDataReader reader, string type) => new(reader.GetInt64(0), type, reader.GetString(1));

    /// <summary>The id of the run's latest committed event (0 when none), read under its lock: what a write's events follow.</summary>
    internal static NpgsqlBatchCommand LastEventCommand(Guid runId)
    {
        var command = new NpgsqlBatchCommand(RunEventHub.LastEventIdSql);
        command.Parameters.Add(new() { Value = runId });
        return command;
    }
}

/// <summary>
/// One unit of work on a run's rows, under the run's lock (see <see cref="RunLog"/>). Dispose without commit to drop it.
/// Events, audit entries and the statements staged with <see cref="Stage"/> are written as one batch of SQL, in the
/// order staged, after what EF Core tracks in <see cref="Db"/>: one round trip for all of them, and the commit with the
/// last of them.
/// </summary>
public sealed class RunLogWrite(QlawDbContext db, IDbContextTransaction transaction, Guid runId, DateTimeOffset now, RunEventHub hub) : IAsyncDisposable
{
    private readonly List<(NpgsqlBatchCommand Command, bool ReturnsRows, Action<NpgsqlDataReader>? OnRow)> _staged = [];
    private bool _stop;

    // The events this write inserts, in id order, and the run's last event before them: handed to this process's
    // streams once the write commits, when one followed the run as the write staged its first event.
    private bool _stagedEvent;
    private List<RunEventRow>? _events;
    private long _previousEventId = -1;

    public QlawDbContext Db => db;

    public Guid RunId => runId;

    /// <summary>The time of every row this write stages.</summary>
    public DateTimeOffset Now => now;

    /// <summary>Stages an audit row.</summary>
    public void Audit(string type, object detail) =>
        Stage("INSERT INTO audit_logs (run_id, type, detail, created_at) VALUES ($1, $2, $3, $4)",
            [runId, type, RunLog.Jsonb(JsonSerializer.Serialize(detail, QlawJson.Options)), now]);

    /// <summary>Stages an event; readers hear of it when the write commits.</summary>
    public void Event(RunEventEntity row)
    {
        const string Insert = "INSERT INTO run_events (run_id, type, data, step_index, attempt, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
        if (!_stagedEvent)
        {
            _stagedEvent = true;
            if (hub.Follows(runId))
            {
                _events = [];
                _staged.Add((RunLog.LastEventCommand(runId), true, reader => _previousEventId = reader.GetInt64(0)));
            }
        }

        if (_events is not { } events)
        {
            Stage(Insert, RunLog.EventValues(row));
            return;
        }

        var type = row.Type;
        var insert = new NpgsqlBatchCommand(Insert + " " + RunLog.InsertedEvent);
        insert.Parameters.AddRange(RunLog.EventValues(row));
        _staged.Add((insert, true, reader => events.Add(RunLog.InsertedRow(reader, type))));
    }

    /// <summary>
    /// Stages one SQL statement with positional parameters (<c>$1</c>…); <paramref name="onId"/>, when given, gets the
    /// first column of its first row (an <c>INSERT … RETURNING id</c>) once the batch ran. Only a statement with
    /// <paramref name="onId"/> may return rows.
    /// </summary>
    public void Stage(string sql, object?[] values, Action<long>? onId = null) =>
        StageCommand(sql, values, onId is not null, onId is null ? null : reader => onId(reader.GetInt64(0)));

    private void StageCommand(string sql, object?[] values, bool returnsRows, Action<NpgsqlDataReader>? onRow)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(value as NpgsqlParameter ?? new NpgsqlParameter { Value = value ?? DBNull.Value });
        }

        _staged.Add((command, returnsRows, onRow));
    }

    /// <summary>
    /// Stages a check of what the rest of the write relies on (<paramref name="condition"/>, SQL with positional
    /// parameters), evaluated under the run's lock in the same batch. When it does not hold, PostgreSQL stops there and
    /// skips the rest of the batch, its commit included: the write throws a <see cref="PostgresException"/> with
    /// <see cref="RunLog.ExpectationFailed"/> and is dropped on disposal.
    /// </summary>
    public void Expect(string condition, object?[] values) =>
        StageCommand($"SELECT qlaw_expect({condition})", values, returnsRows: true, onRow: null);

    // A statement that returns rows, read by onRow when given.
    internal void StageRows(NpgsqlBatchCommand command, Action<NpgsqlDataReader>? onRow) => _staged.Add((command, true, onRow));

    /// <summary>On commit, tells the run's running attempt, wherever it runs, to stop (it no longer runs in the log).</summary>
    public void StopRunningAttempt() => _stop = true;

    /// <summary>Writes what is staged so far (still uncommitted), so that later rows get later ids.</summary>
    public async Task SaveAsync(CancellationToken cancellationToken)
    {
        if (db.ChangeTracker.HasChanges())
        {
            await db.SaveChangesAsync(cancellationToken);
        }

        if (_staged.Count == 0)
        {
            return;
        }

        await using var batch = new NpgsqlBatch((NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)transaction.GetDbTransaction());
        foreach (var (command, _, _) in _staged)
        {
            batch.BatchCommands.Add(command);
        }

        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            // Only the statements that return rows have a result set in the reader.
            foreach (var (_, _, onRow) in _staged.Where(s => s.ReturnsRows))
            {
                if (onRow is not null && await reader.ReadAsync(cancellationToken))
                {
                    onRow(reader);
                }

                await reader.NextResultAsync(cancellationToken);
            }
        }

        _staged.Clear();
    }

    /// <summary>
    /// Writes what is staged with <paramref name="sql"/> last, in one round trip (still uncommitted), and returns how
    /// many rows that statement changed.
    /// </summary>
    public async Task<int> ExecuteAsync(string sql, object?[] values, CancellationToken cancellationToken)
    {
        StageCommand(sql, values, returnsRows: false, onRow: null);
        var command = _staged[^1].Command;
        await SaveAsync(cancellationToken);
        return command.RecordsAffected;
    }

    /// <summary>
    /// Writes what is staged and commits in the same round trip (new events are announced then, and handed to this
    /// process's streams), releasing the run's lock.
    /// </summary>
    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        if (_stop)
        {
            StageCommand("SELECT pg_notify($1, $2)", [RunEventNotifications.StopChannel, runId.ToString("N")], returnsRows: true, onRow: null);
        }

        // The COMMIT ends the batch: when a statement before it fails, PostgreSQL skips the rest and the transaction is
        // rolled back on disposal, as before. A transaction ended this way is complete for Npgsql (its connection is idle
        // again), so disposing it sends nothing; it is disposed at once, so that the context works without it from here.
        StageCommand("COMMIT", [], returnsRows: false, onRow: null);
        await SaveAsync(cancellationToken);
        await transaction.DisposeAsync();
        if (_events is { Count: > 0 } events && _previousEventId >= 0)
        {
            hub.Publish(runId, _previousEventId, events);
        }
    }

    public ValueTask DisposeAsync() => transaction.DisposeAsync();
}
