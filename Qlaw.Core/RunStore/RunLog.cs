using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using NpgsqlTypes;
using Qlaw.Contracts;
using Qlaw.Data;

namespace Qlaw.Core.RunStore;

/// <summary>
/// The one way a run's rows are written. Every write of a run — step rows, handoffs, audit, <c>run_events</c>, the
/// run's status — happens in a <see cref="RunLogWrite"/> that holds the run's advisory lock from before its first row
/// until it commits. So one writer per run at a time, and a run's event ids (the SSE ids, which readers tail with
/// <c>id &gt; last</c>) commit in id order. New <c>run_events</c> rows announce themselves: a row trigger sends
/// <c>NOTIFY</c> (<see cref="RunEventNotifications.Channel"/>), delivered on commit, at no extra round trip; and
/// this process's own streams get them from the writer as soon as it committed (<see cref="IRunEventPublisher.Publish"/>).
/// </summary>
public sealed class RunLog(QlawDbContext db, TimeProvider clock, IRunEventPublisher hub)
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

    /// <summary>A <c>jsonb</c> parameter holding <paramref name="json"/> as it is.</summary>
    internal static NpgsqlParameter Jsonb(string? json) => new() { Value = (object?)json ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Jsonb };

    internal static NpgsqlParameter JsonbOf<T>(T value) => Jsonb(JsonSerializer.Serialize(value, QlawJson.Options));

    /// <summary>The key of the advisory lock of the run <paramref name="runId"/> (SQL naming a <c>uuid</c>): every writer's.</summary>
    internal static string LockKey(string runId) => $"hashtextextended({runId}::text, 0)";

    /// <summary>A statement of a batch with positional parameters (<c>$1</c>…): an <see cref="NpgsqlParameter"/> as it is, null as NULL.</summary>
    internal static NpgsqlBatchCommand Command(string sql, params object?[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(value as NpgsqlParameter ?? new NpgsqlParameter { Value = value ?? DBNull.Value });
        }

        return command;
    }

    // Takes the run's advisory lock until the transaction ends.
    private static NpgsqlBatchCommand LockCommand(Guid runId) => Command(LockSql, runId);

    private static readonly string LockSql = $"SELECT pg_advisory_xact_lock({LockKey("$1")})";

    private const string LastEventIdSql = "SELECT coalesce(max(id), 0) FROM run_events WHERE run_id = $1";

    /// <summary>The id of the run's latest committed event (0 when none), read under its lock: what a write's events follow.</summary>
    internal static NpgsqlBatchCommand LastEventCommand(Guid runId) => Command(LastEventIdSql, runId);

    /// <summary>The id of the run's latest committed event (0 when none): where what happens next starts.</summary>
    internal static async Task<long> LastEventIdAsync(NpgsqlDataSource dataSource, Guid runId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(LastEventIdSql);
        command.Parameters.Add(new() { Value = runId });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
