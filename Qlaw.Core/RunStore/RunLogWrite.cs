using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Qlaw.Contracts;
using Qlaw.Data;
using Qlaw.Data.Audit;
using Qlaw.Data.Runs;

namespace Qlaw.Core.RunStore;

/// <summary>
/// One unit of work on a run's rows, under the run's lock (see <see cref="RunLog"/>). Dispose without commit to drop it.
/// Every row it writes is a statement of one batch, in the order staged: rows inserted by EF Core's model of them
/// (<see cref="Insert"/>, <see cref="Audit"/>, <see cref="Event"/>) and updates staged with <see cref="Stage"/> — one
/// round trip for all of them, and the commit with the last of them. <see cref="Db"/> is for reads: an entity it tracks
/// is never saved, and a change to one fails the write.
/// </summary>
public sealed class RunLogWrite(QlawDbContext db, IDbContextTransaction transaction, Guid runId, DateTimeOffset now, IRunEventPublisher hub) : IAsyncDisposable
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

    /// <summary>Stages an audit row of the run, or of <paramref name="of"/> (a fork written with its source).</summary>
    public void Audit(string type, object detail, Guid? of = null) =>
        Insert(new AuditLogEntity { RunId = of ?? runId, Type = type, Detail = JsonSerializer.Serialize(detail, QlawJson.Options), CreatedAt = now });

    /// <summary>
    /// Stages an <c>INSERT</c> of <paramref name="row"/> by EF Core's model of its entity (<see cref="EntityRows{T}"/>);
    /// <paramref name="onId"/>, when given, gets its id once the batch ran.
    /// </summary>
    public void Insert<T>(T row, Action<long>? onId = null)
        where T : class
    {
        var (sql, values) = EntityRows.Of<T>(db.Model).Insert(row, onId is null ? null : "id");
        Stage(sql, values, onId);
    }

    /// <summary>Stages an event; readers hear of it when the write commits.</summary>
    public void Event(RunEventEntity row)
    {
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
            Insert(row);
            return;
        }

        // Its id and its data as every reader reads it (jsonb's text), for this process's streams.
        var type = row.Type;
        var (sql, values) = EntityRows.Of<RunEventEntity>(db.Model).Insert(row, "id, data::text");
        StageCommand(sql, values, returnsRows: true, reader => events.Add(new(reader.GetInt64(0), type, reader.GetString(1))));
    }

    /// <summary>
    /// Stages one SQL statement with positional parameters (<c>$1</c>…); <paramref name="onId"/>, when given, gets the
    /// first column of its first row (an <c>INSERT … RETURNING id</c>) once the batch ran. Only a statement with
    /// <paramref name="onId"/> may return rows.
    /// </summary>
    public void Stage(string sql, object?[] values, Action<long>? onId = null) =>
        StageCommand(sql, values, onId is not null, onId is null ? null : reader => onId(reader.GetInt64(0)));

    private void StageCommand(string sql, object?[] values, bool returnsRows, Action<NpgsqlDataReader>? onRow) =>
        _staged.Add((RunLog.Command(sql, values), returnsRows, onRow));

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
            throw new InvalidOperationException("A run's rows are written by the statements of its write (Insert, Stage), not by changing tracked entities.");
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
