using System.Text;
using System.Text.Json;
using Npgsql;
using Qlaw.Contracts;
using Qlaw.Contracts.Events;
using Qlaw.Contracts.Runs;
using Qlaw.Core.Agents;
using Qlaw.Core.RunStore;
using Qlaw.Core.Streaming;
using Qlaw.Core.Tools;

namespace Qlaw.Core.Turns;

/// <summary>
/// What one running attempt records while its model call runs. Its first text commits with the attempt's own row when
/// that is still pending (<see cref="PendingAttempt"/>); the rest goes to the <see cref="DeltaBatcher"/>, which writes
/// every streaming attempt's text in one batch per window, and what the batcher has not written when the model is done
/// (<see cref="EndAsync"/>) is written with the turn's outcome, in the same commit. A wait for the model (a full
/// endpoint, a provider's quota) sets the step's <c>waiting</c>, audits <c>model.waiting</c> and streams
/// <c>ModelWaitingEvent</c>. Everything is written only while the attempt still runs: once it is cancelled or superseded
/// the next delta throws <see cref="AttemptStoppedException"/> and the model call ends.
/// </summary>
/// <remarks>
/// A turn's text is capped at <paramref name="maxChars"/>: a model (or an endpoint) that streams past it is stopped and
/// the turn fails permanently (<c>turn_too_long</c>), so neither the turn's buffer nor the event log grows without end.
/// </remarks>
public sealed class TurnLog(
    DeltaBatcher batcher, NpgsqlDataSource dataSource, TimeProvider clock, int maxChars, AgentTurnContext turn, PendingAttempt attempt) : ITurnLog
{
    private readonly StringBuilder _text = new();
    private DeltaBuffer? _buffer;

    public string Text => _text.ToString();

    public int Length => _text.Length;

    public async Task AppendAsync(string? delta, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(delta))
        {
            return;
        }

        if (_buffer is { Stopped: true })
        {
            throw new AttemptStoppedException();
        }

        if (_text.Length + delta.Length > maxChars)
        {
            throw new PermanentAgentException(
                $"The turn's text passed the server's cap of {maxChars} characters (Limits:MaxTurnChars); the model call was stopped.", code: RunErrorCodes.TurnTooLong);
        }

        var first = _text.Length == 0;
        _text.Append(delta);
        if (first && await attempt.CommitAsync(write => write.Event(RunEvents.Delta(turn.RunId, turn.Step, turn.Attempt, turn.Agent.Name, delta, clock.GetUtcNow()))))
        {
            return;
        }

        (_buffer ??= batcher.Open(turn, attempt.StepId)).Append(delta);
    }

    /// <summary>The text the batcher has not written, once every write of it in flight is done; null when none.</summary>
    public async Task<string?> EndAsync() => _buffer is { } buffer ? await buffer.CloseAsync() : null;

    public async Task WaitingAsync(ModelWait wait, CancellationToken cancellationToken)
    {
        await attempt.CommitAsync(null);
        var now = clock.GetUtcNow();
        var waiting = new StepWaiting(wait.Reason, wait.Endpoint, now, wait.WaitMs, wait.Status);
        var detail = new ModelWaiting(turn.Step, turn.Agent.Name, turn.Attempt, wait.Endpoint, wait.Reason, wait.WaitMs, wait.Status);
        var trace = RunEvents.Trace(turn.RunId, RunEvents.ModelWaiting, turn.Agent.Name, detail, now, turn.Step, turn.Attempt);

        // One round trip under the run's lock, every row only while the attempt runs.
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(Command("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", turn.RunId));
        batch.BatchCommands.Add(Command("UPDATE steps SET waiting = $2 WHERE id = $1 AND status = 'running'", attempt.StepId, Json(waiting)));
        batch.BatchCommands.Add(Command(
            $"INSERT INTO audit_logs (run_id, type, detail, created_at) SELECT $2, $3, $4, $5 WHERE {Running}",
            attempt.StepId, turn.RunId, AuditTypes.ModelWaiting, Json(detail), now));
        var values = RunLog.EventValues(trace);
        batch.BatchCommands.Add(Command(
            $"INSERT INTO run_events (run_id, type, data, step_index, attempt, created_at) SELECT $2, $3, $4, $5, $6, $7 WHERE {Running}",
            [attempt.StepId, .. values]));
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task WaitOverAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("UPDATE steps SET waiting = NULL WHERE id = $1 AND status = 'running'");
        command.Parameters.AddWithValue(attempt.StepId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<ToolCallRecord> CalledAsync(ToolCallRecord record, string? reason, CancellationToken cancellationToken)
    {
        // A call before any text (the usual first answer of a tool-using turn) goes with the attempt's own first write.
        var values = new object[] { turn.RunId, turn.Step, turn.Attempt, turn.Agent.Name, record.CallId, record.Tool, RunLog.Jsonb(record.Arguments), QlawJson.EnumName(record.Status) };
        var called = Called(record, reason);
        long first = 0;
        if (await attempt.CommitAsync(write =>
        {
            write.Stage($"{InsertCall} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, $9) RETURNING id", [.. values, write.Now], id => first = id);
            write.Audit(AuditTypes.ToolCalled, called);
            write.Event(RunEvents.Trace(turn.RunId, RunEvents.ToolCall, turn.Agent.Name, called, write.Now, turn.Step, turn.Attempt));
        }))
        {
            return record with { Id = first };
        }

        var id = await ToolWriteAsync(
            $"{InsertCall} SELECT $2, $3, $4, $5, $6, $7, $8, $9, false, $10 WHERE {Running} RETURNING id",
            [attempt.StepId, .. values, clock.GetUtcNow()],
            AuditTypes.ToolCalled, RunEvents.ToolCall, called, cancellationToken);
        return record with { Id = id };
    }

    public async Task MarkAsync(ToolCallRecord record, CancellationToken cancellationToken)
    {
        await attempt.CommitAsync(null);
        await ToolWriteAsync(
            $"UPDATE tool_calls SET status = $3, attempt = $4 WHERE id = $2 AND {Running} RETURNING id",
            [attempt.StepId, record.Id, QlawJson.EnumName(record.Status), turn.Attempt], AuditTypes.ToolCalled, RunEvents.ToolCall, Called(record, null), cancellationToken);
    }

    public async Task CompletedAsync(ToolCallRecord record, TimeSpan duration, CancellationToken cancellationToken)
    {
        await attempt.CommitAsync(null);
        var result = record.Result ?? "";
        var detail = new ToolCompleted(turn.Step, turn.Agent.Name, turn.Attempt, record.CallId, record.Tool, record.IsError, duration.TotalMilliseconds, result.Length > 2000 ? result[..2000] : result, result.Length);
        await ToolWriteAsync(
            $"UPDATE tool_calls SET status = $3, result = $4, is_error = $5, completed_at = $6 WHERE id = $2 AND {Running} RETURNING id",
            [attempt.StepId, record.Id, QlawJson.EnumName(ToolCallStatus.Completed), result, record.IsError, clock.GetUtcNow()],
            AuditTypes.ToolCompleted, RunEvents.ToolResult, detail, cancellationToken);
    }

    private ToolCalled Called(ToolCallRecord call, string? reason) =>
        new(turn.Step, turn.Agent.Name, turn.Attempt, call.CallId, call.Tool, call.Arguments, QlawJson.EnumName(call.Status), reason);

    // A write of a tool call's record with its audit row and trace, under the run's lock and only while the attempt runs
    // ($1 is the attempt's step row, committed before); the record's id, or AttemptStoppedException when the attempt no
    // longer runs.
    private async Task<long> ToolWriteAsync(string sql, object[] values, string auditType, string eventType, object detail, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var trace = RunEvents.Trace(turn.RunId, eventType, turn.Agent.Name, detail, now, turn.Step, turn.Attempt);
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(Command("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", turn.RunId));
        batch.BatchCommands.Add(Command(sql, values));
        batch.BatchCommands.Add(Command(
            $"INSERT INTO audit_logs (run_id, type, detail, created_at) SELECT $2, $3, $4, $5 WHERE {Running}", attempt.StepId, turn.RunId, auditType, Json(detail), now));
        batch.BatchCommands.Add(Command(
            $"INSERT INTO run_events (run_id, type, data, step_index, attempt, created_at) SELECT $2, $3, $4, $5, $6, $7 WHERE {Running}",
            [attempt.StepId, .. RunLog.EventValues(trace)]));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? reader.GetInt64(0) : throw new AttemptStoppedException();
    }

    private const string Running = "EXISTS (SELECT 1 FROM steps WHERE id = $1 AND status = 'running')";

    // A new call's row, written with the attempt's first write or, after it, only while the attempt runs.
    private const string InsertCall = "INSERT INTO tool_calls (run_id, step_index, attempt, agent, call_id, tool, arguments, status, is_error, created_at)";

    private static NpgsqlParameter Json<T>(T value) => RunLog.Jsonb(JsonSerializer.Serialize(value, QlawJson.Options));

    private static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(value as NpgsqlParameter ?? new NpgsqlParameter { Value = value });
        }

        return command;
    }
}
