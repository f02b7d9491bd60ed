using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Qlaw.Contracts;
using Qlaw.Contracts.Events;
using Qlaw.Contracts.Runs;
using Qlaw.Data;
using Qlaw.Data.Runs;

namespace Qlaw.Core.RunStore;

/// <summary>
/// Every way a run stops, and the only code that stops one: finished (completed, failed on a limit or over its token
/// budget — by the turn that decides it), dead-lettered (failed, waiting for <c>continue</c>), cancelled, or abandoned
/// (a dead letter nobody continued). Each is conditional on the run not having ended already, so running one twice
/// changes nothing.
/// </summary>
public sealed class RunEndings(QlawDbContext db, RunLog log)
{
    /// <summary>
    /// Retries are exhausted (or the turn failed for good, <paramref name="permanent"/>) at <paramref name="step"/> of
    /// <paramref name="agent"/>: the run fails with the error (<paramref name="code"/>, <paramref name="message"/>) and
    /// waits for <c>continue</c>; false when it had ended.
    /// </summary>
    public async Task<bool> DeadLetterAsync(Guid runId, int step, string agent, string code, string message, bool permanent, CancellationToken cancellationToken)
    {
        await using var write = await log.OpenAsync(runId, cancellationToken);
        var changed = await write.ExecuteAsync(
            "UPDATE runs SET status = $2, last_error = $3, last_error_code = $4, updated_at = $5 WHERE id = $1 AND status IN ($6, $7)",
            [runId, QlawJson.EnumName(RunStatus.Failed), message, code, write.Now, QlawJson.EnumName(RunStatus.Running), QlawJson.EnumName(RunStatus.Queued)],
            cancellationToken);
        if (changed == 0)
        {
            return false;
        }

        var attempts = await db.Steps.CountAsync(s => s.RunId == runId && s.Index == step && s.Status == StepStatus.Failed, cancellationToken);
        var lastGood = await db.Steps.Where(s => s.RunId == runId && s.Status == StepStatus.Completed).MaxAsync(s => (int?)s.Index, cancellationToken);
        var detail = new RunDeadLettered(message, code, attempts, permanent, step, agent, lastGood);
        write.Audit(AuditTypes.RunDeadLettered, detail);
        write.Event(RunEvents.Trace(runId, RunEvents.WorkflowError, agent, detail, write.Now));
        write.Event(RunEvents.Error(runId, code, message, write.Now));
        await write.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Cancels a run that has not ended: its running attempt stops (the step fails as cancelled, so the attempt writes
    /// nothing more), and <c>response.completed</c> (cancelled) is the run's last event. Returns the run as it is now,
    /// and false when it had ended.
    /// </summary>
    public async Task<(bool Cancelled, RunEntity Run)> CancelAsync(RunLogWrite write, CancellationToken cancellationToken)
    {
        var run = await db.Runs.AsNoTracking().SingleAsync(r => r.Id == write.RunId, cancellationToken);
        if (HasEnded(run))
        {
            return (false, run);
        }

        var from = run.Status;
        (run.Status, run.CompletedAt, run.UpdatedAt) = (RunStatus.Cancelled, write.Now, write.Now);
        write.Stage("UPDATE runs SET status = $2, completed_at = $3, updated_at = $3 WHERE id = $1", [run.Id, QlawJson.EnumName(run.Status), write.Now]);
        write.Stage("UPDATE steps SET status = $2, error_code = $3, error = $4, completed_at = $5 WHERE run_id = $1 AND status = $6",
            [run.Id, QlawJson.EnumName(StepStatus.Failed), RunErrorCodes.Cancelled, "The run was cancelled.", write.Now, QlawJson.EnumName(StepStatus.Running)]);
        write.StopRunningAttempt();
        write.Audit(AuditTypes.RunCancelled, new RunCancelled(from));
        write.Event(RunEvents.Completed(run.Id, RunStatus.Cancelled, null, write.Now));
        return (true, run);
    }

    /// <summary>
    /// Ends a dead-lettered run that nobody continued since <paramref name="cutoff"/> for good (<c>run.abandoned</c>);
    /// returns the run, or null when it was continued, cancelled or changed meanwhile. The caller terminates its
    /// orchestration.
    /// </summary>
    public async Task<RunEntity?> AbandonAsync(RunLogWrite write, DateTimeOffset cutoff, int afterSeconds, CancellationToken cancellationToken)
    {
        var run = await db.Runs.AsNoTracking().SingleAsync(r => r.Id == write.RunId, cancellationToken);
        if (run.Status != RunStatus.Failed || run.CompletedAt is not null || run.UpdatedAt >= cutoff)
        {
            return null;
        }

        (run.CompletedAt, run.UpdatedAt) = (write.Now, write.Now);
        write.Stage("UPDATE runs SET completed_at = $2, updated_at = $2 WHERE id = $1", [run.Id, write.Now]);
        write.Audit(AuditTypes.RunAbandoned, new RunAbandoned(afterSeconds, run.LastErrorCode));
        return run;
    }

    /// <summary>Whether the run has ended for good: completed, cancelled, or failed (a dead-lettered run has no end time and can go on).</summary>
    public static bool HasEnded(RunEntity run) =>
        run.Status is RunStatus.Completed or RunStatus.Cancelled || (run.Status == RunStatus.Failed && run.CompletedAt is not null);

    /// <summary>
    /// Ends the run in <paramref name="write"/> unless it already ended; false when it had. The last completed step (its
    /// agent and output) is the run's output; the caller passes it when it has just written it.
    /// </summary>
    public async Task<bool> StageFinishAsync(RunLogWrite write, FinishRunRequest request, (string? Agent, string? Output)? lastStep, CancellationToken cancellationToken)
    {
        var changed = await write.ExecuteAsync(FinishSql, FinishValues(write, request), cancellationToken);
        if (changed == 0)
        {
            return false;
        }

        var (agent, output) = !request.Succeeded ? default : lastStep ?? await db.Steps
            .Where(s => s.RunId == request.RunId && s.Status == StepStatus.Completed)
            .OrderByDescending(s => s.Index).Select(s => new ValueTuple<string?, string?>(s.Agent, s.Output)).FirstOrDefaultAsync(cancellationToken);
        StageEnd(write, request, agent, output);
        return true;
    }

    /// <summary>
    /// Stages the end of a run that has not ended, as <see cref="StageFinishAsync"/> does, without a round trip: for a
    /// write whose step is still running under the run's lock (checked, or expected with <see cref="RunLogWrite.Expect"/>),
    /// so that the run is open. <paramref name="agent"/> and <paramref name="output"/> are the run's last step's.
    /// </summary>
    public static void StageFinish(RunLogWrite write, FinishRunRequest request, string agent, string? output)
    {
        write.Stage(FinishSql, FinishValues(write, request));
        StageEnd(write, request, agent, output);
    }

    // The run's row at its end, unless it ended already.
    private const string FinishSql =
        "UPDATE runs SET status = $2, completed_at = $3, updated_at = $3, last_error = $4, last_error_code = $5, current_step = $6, origin_stack = $7, chain = $8 " +
        "WHERE id = $1 AND status NOT IN ($9, $10, $11)";

    private static object?[] FinishValues(RunLogWrite write, FinishRunRequest request) =>
        [request.RunId, QlawJson.EnumName(request.Succeeded ? RunStatus.Completed : RunStatus.Failed), write.Now, request.Error, request.ErrorCode,
         request.Step, RunLog.Jsonb(JsonSerializer.Serialize(request.Stack, QlawJson.Options)),
         RunLog.Jsonb(JsonSerializer.Serialize(request.Chain, QlawJson.Options)),
         QlawJson.EnumName(RunStatus.Completed), QlawJson.EnumName(RunStatus.Cancelled), QlawJson.EnumName(RunStatus.Failed)];

    // The rows of a run's end after its row's update: the warning, the audit entry and the run's last events.
    private static void StageEnd(RunLogWrite write, FinishRunRequest request, string? agent, string? output)
    {
        if (request.Warning is not null)
        {
            RouteWarnings.Record(write, request.Step - 1, null, request.Warning);
        }

        write.Audit(
            request.Succeeded ? AuditTypes.RunCompleted : AuditTypes.RunFailed,
            new RunFinished(request.Step, request.Error, request.ErrorCode));
        if (request.Succeeded)
        {
            write.Event(RunEvents.Trace(request.RunId, RunEvents.WorkflowOutput, agent, new WorkflowOutput(request.Step, output), write.Now));
            write.Event(RunEvents.Completed(request.RunId, RunStatus.Completed, output, write.Now));
        }
        else
        {
            var (code, message) = (request.ErrorCode ?? RunErrorCodes.Internal, request.Error ?? "The run failed.");
            write.Event(RunEvents.Trace(request.RunId, RunEvents.WorkflowError, request.Agent, new WorkflowError(message, code, request.Step), write.Now));
            write.Event(RunEvents.Error(request.RunId, code, message, write.Now));
        }
    }
}

/// <summary>
/// A run's end as the turn that decides it writes it: completed, or failed with <paramref name="ErrorCode"/> and
/// <paramref name="Error"/> (a limit, the token budget), at <paramref name="Step"/> with the routing state's
/// <paramref name="Agent"/>, origin <paramref name="Stack"/> and <paramref name="Chain"/> of control.
/// </summary>
public sealed record FinishRunRequest(
    Guid RunId, int Step, string Agent, IReadOnlyList<string> Stack, IReadOnlyList<string> Chain, bool Succeeded, string? ErrorCode, string? Error, string? Warning);
