using System.Text;
using Npgsql;
using Qlaw.Contracts;
using Qlaw.Contracts.Events;
using Qlaw.Contracts.Runs;
using Qlaw.Core.Agents;
using Qlaw.Core.RunStore;
using Qlaw.Core.Tools;
using Qlaw.Data.Runs;

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
    DeltaBatcher batcher, RunLog log, TimeProvider clock, int maxChars, AgentTurnContext turn, PendingAttempt attempt) : ITurnLog
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

        (_buffer ??= batcher.Open(turn.RunId, turn.Step, turn.Attempt, turn.Agent.Name)).Append(delta);
    }

    /// <summary>The text the batcher has not written, once every write of it in flight is done; null when none.</summary>
    public async Task<string?> EndAsync() => _buffer is { } buffer ? await buffer.CloseAsync() : null;

    public async Task WaitingAsync(ModelWait wait, CancellationToken cancellationToken)
    {
        await attempt.CommitAsync(null);
        var detail = new ModelWaiting(turn.Step, turn.Agent.Name, turn.Attempt, wait.Endpoint, wait.Reason, wait.WaitMs, wait.Status);
        await WriteWhileRunningAsync(write =>
        {
            write.Stage("UPDATE steps SET waiting = $2 WHERE id = $1", [attempt.StepId, RunLog.JsonbOf(new StepWaiting(wait.Reason, wait.Endpoint, write.Now, wait.WaitMs, wait.Status))]);
            Record(write, AuditTypes.ModelWaiting, RunEvents.ModelWaiting, detail);
        }, cancellationToken);
    }

    public async Task WaitOverAsync(CancellationToken cancellationToken) =>
        await WriteWhileRunningAsync(write => write.Stage("UPDATE steps SET waiting = NULL WHERE id = $1", [attempt.StepId]), cancellationToken);

    public async Task<ToolCallRecord> CalledAsync(ToolCallRecord record, string? reason, CancellationToken cancellationToken)
    {
        // A call before any text (the usual first answer of a tool-using turn) goes with the attempt's own first write.
        long id = 0;
        void Stage(RunLogWrite write)
        {
            write.Insert(
                new ToolCallEntity
                {
                    RunId = turn.RunId, StepIndex = turn.Step, Attempt = turn.Attempt, Agent = turn.Agent.Name, CallId = record.CallId, Tool = record.Tool,
                    Arguments = record.Arguments, Status = record.Status, CreatedAt = write.Now,
                },
                written => id = written);
            Record(write, AuditTypes.ToolCalled, RunEvents.ToolCall, Called(record, reason));
        }

        if (!await attempt.CommitAsync(Stage) && !await WriteWhileRunningAsync(Stage, cancellationToken))
        {
            throw new AttemptStoppedException();
        }

        return record with { Id = id };
    }

    public async Task MarkAsync(ToolCallRecord record, CancellationToken cancellationToken) =>
        await ToolWriteAsync(
            "UPDATE tool_calls SET status = $2, attempt = $3 WHERE id = $1", [record.Id, QlawJson.EnumName(record.Status), turn.Attempt],
            AuditTypes.ToolCalled, RunEvents.ToolCall, Called(record, null), cancellationToken);

    public async Task CompletedAsync(ToolCallRecord record, TimeSpan duration, CancellationToken cancellationToken)
    {
        var result = record.Result ?? "";
        var detail = new ToolCompleted(turn.Step, turn.Agent.Name, turn.Attempt, record.CallId, record.Tool, record.IsError, duration.TotalMilliseconds, result.Length > 2000 ? result[..2000] : result, result.Length);
        await ToolWriteAsync(
            "UPDATE tool_calls SET status = $2, result = $3, is_error = $4, completed_at = $5 WHERE id = $1",
            [record.Id, QlawJson.EnumName(ToolCallStatus.Completed), result, record.IsError, clock.GetUtcNow()],
            AuditTypes.ToolCompleted, RunEvents.ToolResult, detail, cancellationToken);
    }

    private ToolCalled Called(ToolCallRecord call, string? reason) =>
        new(turn.Step, turn.Agent.Name, turn.Attempt, call.CallId, call.Tool, call.Arguments, QlawJson.EnumName(call.Status), reason);

    // A change of a tool call's record with its audit row and trace; AttemptStoppedException when the attempt no longer runs.
    private async Task ToolWriteAsync(string sql, object?[] values, string auditType, string eventType, object detail, CancellationToken cancellationToken)
    {
        await attempt.CommitAsync(null);
        if (!await WriteWhileRunningAsync(write => { write.Stage(sql, values); Record(write, auditType, eventType, detail); }, cancellationToken))
        {
            throw new AttemptStoppedException();
        }
    }

    private void Record(RunLogWrite write, string auditType, string eventType, object detail)
    {
        write.Audit(auditType, detail);
        write.Event(RunEvents.Trace(turn.RunId, eventType, turn.Agent.Name, detail, write.Now, turn.Step, turn.Attempt));
    }

    // One round trip under the run's lock, written only while the attempt (its step row, committed before) still runs;
    // false, with nothing written, when it no longer does.
    private async Task<bool> WriteWhileRunningAsync(Action<RunLogWrite> stage, CancellationToken cancellationToken)
    {
        await using var write = await log.BeginAsync(turn.RunId, cancellationToken);
        write.Expect("EXISTS (SELECT 1 FROM steps WHERE id = $1 AND status = 'running')", [attempt.StepId]);
        stage(write);
        try
        {
            await write.CommitAsync(cancellationToken);
            return true;
        }
        catch (PostgresException ex) when (ex.SqlState == RunLog.ExpectationFailed)
        {
            return false;
        }
    }
}
