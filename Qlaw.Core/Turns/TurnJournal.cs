using Microsoft.EntityFrameworkCore;
using Npgsql;
using Qlaw.Contracts;
using Qlaw.Contracts.Events;
using Qlaw.Contracts.Runs;
using Qlaw.Core.Agents;
using Qlaw.Core.Orchestration;
using Qlaw.Core.Routing;
using Qlaw.Core.RunStore;
using Qlaw.Data;

namespace Qlaw.Core.Turns;

/// <summary>
/// The end of a turn's attempt in the run log, completed or failed (<see cref="TurnStarter"/> begins it). Activities
/// run at least once and a crashed worker's attempt may still be running, so every write is under the run's lock
/// (<see cref="RunLog"/>) and keyed by (run, step, attempt), and only the attempt whose step row is still
/// <c>running</c> may complete or fail it.
/// </summary>
public sealed class TurnJournal(QlawDbContext db, RunLog log, RunEndings endings, TurnSettlement settlement)
{
    /// <summary>
    /// Records a completed attempt and where the run goes after it (<see cref="TurnSettlement.Next"/>): the next turn,
    /// a pause for input, or the run's end, in the same write. When the attempt no longer runs (cancelled, superseded) the result is what
    /// the run log says instead (another attempt's outcome, or stop).
    /// </summary>
    /// <remarks>
    /// Nearly every completion finds the attempt still running, no handoff waiting and the token budget not passed: it
    /// is written in one round trip, the lock, a check of those three (<see cref="RunLogWrite.Expect"/>), its rows and
    /// the commit in one batch. When the check fails, nothing of it is written and the completion reads first, as below.
    /// </remarks>
    public async Task<TurnResult> CompleteTurnAsync(
        PendingAttempt attempt, TurnRequest request, AgentTurnContext context, AgentTurnOutput output, string? tail, CancellationToken cancellationToken)
    {
        var step = new AttemptRow(attempt.StepId, context.Step, context.Attempt, context.Agent.Name, attempt.StartedAt);
        await using (var write = await log.BeginAsync(context.RunId, cancellationToken))
        {
            var tokens = Tokens(context, output);
            var budget = request.Plan.MaxTotalTokens;
            write.Expect(
                "EXISTS (SELECT 1 FROM steps WHERE id = $1 AND status = $3) " +
                "AND NOT EXISTS (SELECT 1 FROM handoffs WHERE run_id = $2 AND resolved_at IS NULL) " +
                "AND EXISTS (SELECT 1 FROM runs WHERE id = $2 AND status = $4 AND ($5::bigint IS NULL OR tokens_used + $6 <= $5))",
                [step.Id, context.RunId, QlawJson.EnumName(StepStatus.Running), QlawJson.EnumName(RunStatus.Running),
                 new NpgsqlParameter { Value = (object?)budget ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint }, tokens]);
            try
            {
                return await WriteCompletionAsync(write, step, null, null, request, context, output, tail, cancellationToken);
            }
            catch (PostgresException ex) when (ex.SqlState == RunLog.ExpectationFailed)
            {
                // Cancelled, superseded, a handoff waiting or the budget passed: read what the run log says, below.
            }
        }

        // The attempt's step and a handoff requested through the API meanwhile, read in the lock's round trip.
        var reads = new TurnReads(db.Model);
        var (opened, (row, handoff, tokensUsed)) = await log.OpenAsync(context.RunId, reads.Complete(context.RunId, step.Id), reads.ReadCompleteAsync, cancellationToken);
        await using var checkedWrite = opened;
        if (row.Status != StepStatus.Running)
        {
            await checkedWrite.DisposeAsync();
            return await settlement.SettleAsync(request, row.Index, cancellationToken);
        }

        return await WriteCompletionAsync(checkedWrite, step, handoff, tokensUsed, request, context, output, tail, cancellationToken);
    }

    // The completion's rows, staged and committed in one batch. A null tokensUsed means the write expects the run within
    // its budget (so the run is running too, and is finished without a read).
    private async Task<TurnResult> WriteCompletionAsync(
        RunLogWrite write, AttemptRow step, PendingHandoff? handoff, long? tokensUsed, TurnRequest request, AgentTurnContext context, AgentTurnOutput output,
        string? tail, CancellationToken cancellationToken)
    {
        var now = write.Now;

        // The text the sink still held goes out with the outcome: one commit for both, the delta first.
        if (tail is not null)
        {
            write.Event(RunEvents.Delta(context.RunId, step.Index, step.Attempt, step.Agent, tail, now));
        }

        // Fenced by the step's status like every write of an attempt's outcome (the lock makes it hold already).
        write.Stage("UPDATE steps SET status = $2, output = $3, decision = $4, completed_at = $5, waiting = NULL WHERE id = $1 AND status = $6",
            [step.Id, QlawJson.EnumName(StepStatus.Completed), output.Text, RunLog.JsonbOf(output.Decision), now, QlawJson.EnumName(StepStatus.Running)]);
        if (output.Decision.Ignored is { } ignored)
        {
            // Several routing calls in one turn: one decides, the others are said, here and to the model later.
            var detail = new RouteIgnored(step.Index, step.Agent, output.Decision.Action == RouteAction.Invalid ? null : RouteCall.Name(output.Decision), [.. ignored.Select(c => c.Name)]);
            write.Audit(AuditTypes.RouteIgnored, detail);
            write.Event(RunEvents.Trace(context.RunId, RunEvents.WorkflowWarning, step.Agent, detail, now, step.Index, step.Attempt));
        }

        var completed = new StepCompleted(
            step.Index, step.Agent, step.Attempt, (now - step.StartedAt).TotalMilliseconds, QlawJson.EnumName(output.Decision.Action),
            output.Decision.Target, output.InputTokens, output.OutputTokens, output.Truncated ? true : null);
        write.Audit(AuditTypes.StepCompleted, completed);
        write.Event(RunEvents.Trace(context.RunId, RunEvents.ExecutorCompleted, step.Agent, completed, now, step.Index, step.Attempt));

        // The run's token budget: a turn that spends past it ends the run here, whatever it decided. A run's end is staged
        // after the step's rows (here and below), so that the run's last events follow the step's in the same batch.
        if (OverBudget(write, request, Tokens(context, output), tokensUsed) is { } overBudget)
        {
            await endings.StageFinishAsync(write, overBudget, (step.Agent, output.Text), cancellationToken);
            await write.CommitAsync(cancellationToken);
            TurnCounters.Step(step.Agent, "completed");
            TurnCounters.Finished(overBudget);
            return TurnResult.Stop;
        }

        var outcome = TurnSettlement.Next(request, output.Decision, handoff);
        if (outcome is RouteOutcome.AwaitInput)
        {
            var prompt = output.Prompt ?? output.Text;
            write.Stage("UPDATE runs SET status = $2, updated_at = $3 WHERE id = $1 AND status = $4",
                [context.RunId, QlawJson.EnumName(RunStatus.AwaitingInput), now, QlawJson.EnumName(RunStatus.Running)]);
            write.Audit(AuditTypes.InputRequested, new InputRequested(step.Index, step.Agent, prompt));
            var conversation = context.History
                .Append(new ConversationEntry("assistant", step.Agent, output.Text))
                .Select(e => new ConversationMessage(e.Role, e.AuthorName, e.Text)).ToList();
            write.Event(RunEvents.InputRequest(context.RunId, step.Index, step.Attempt, step.Agent, prompt, conversation, now));
            write.Event(RunEvents.Completed(context.RunId, RunStatus.AwaitingInput, null, now));
        }

        var finish = TurnSettlement.EndOf(request, outcome);
        var finished = false;
        if (finish is not null)
        {
            if (tokensUsed is null)
            {
                RunEndings.StageFinish(write, finish, step.Agent, output.Text);
                finished = true;
            }
            else
            {
                finished = await endings.StageFinishAsync(write, finish, (step.Agent, output.Text), cancellationToken);
            }
        }

        await write.CommitAsync(cancellationToken);
        TurnCounters.Step(step.Agent, "completed");
        if (finished)
        {
            TurnCounters.Finished(finish!);
        }

        return new TurnResult(outcome);
    }

    // The attempt being completed: its step row and what the turn knows of it.
    private sealed record AttemptRow(long Id, int Index, int Attempt, string Agent, DateTimeOffset StartedAt);

    // The turn's tokens as the model reported them, each half estimated from the text when it did not.
    private static long Tokens(AgentTurnContext context, AgentTurnOutput output) =>
        (output.InputTokens ?? TokenEstimate.Input(context)) + (output.OutputTokens ?? TokenEstimate.Output(output.Text.Length));

    internal static RunError BudgetError(long used, long budget) =>
        new(RunErrorCodes.BudgetExceeded, $"The run used {used} tokens, over its budget of {budget} (limits.max_total_tokens).");

    // Adds the turn's tokens to the run's count (read under the lock with the step); the failure to finish the run with
    // when that passes the budget.
    // tokensUsed is null when the write expects the run within its budget.
    private static FinishRunRequest? OverBudget(RunLogWrite write, TurnRequest request, long tokens, long? tokensUsed)
    {
        write.Stage(AddTokensSql, [request.RunId, tokens]);
        var used = tokensUsed + tokens;
        return request.Plan.MaxTotalTokens is { } budget && used > budget
            ? TurnSettlement.End(request.RunId, request.State with { Step = request.State.Step + 1 }, BudgetError(used.Value, budget), null)
            : null;
    }

    /// <summary>
    /// Adds the tokens of an attempt that did not complete — cut, stopped, cancelled, superseded — to its run's count:
    /// a model call costs whether or not its turn completes. The next attempt of an over-budget run does not start.
    /// </summary>
    public async Task CountTokensAsync(Guid runId, long tokens, CancellationToken cancellationToken)
    {
        await using var write = await log.BeginAsync(runId, cancellationToken);
        write.Stage(AddTokensSql, [runId, tokens]);
        await write.CommitAsync(cancellationToken);
    }

    // Adds a turn's tokens to its run's count.
    private const string AddTokensSql = "UPDATE runs SET tokens_used = tokens_used + $2 WHERE id = $1";

    /// <summary>
    /// Records a failed attempt with its error, after the text it streamed that was not written yet (<paramref name="tail"/>);
    /// nothing when the attempt no longer runs.
    /// </summary>
    public async Task FailTurnAsync(long stepId, TurnRequest request, RunError error, bool permanent, string? tail, long tokens, CancellationToken cancellationToken)
    {
        await using var write = await log.OpenAsync(request.RunId, cancellationToken);
        var step = await db.Steps.AsNoTracking().SingleAsync(s => s.Id == stepId, cancellationToken);
        write.Stage(AddTokensSql, [request.RunId, tokens]);
        if (step.Status != StepStatus.Running)
        {
            // Stopped meanwhile: the attempt records nothing more, but what its model call cost still counts.
            await write.CommitAsync(cancellationToken);
            return;
        }

        if (tail is not null)
        {
            write.Event(RunEvents.Delta(request.RunId, step.Index, step.Attempt, step.Agent, tail, write.Now));
        }

        write.Stage("UPDATE steps SET status = $2, waiting = NULL, error = $3, error_code = $4, completed_at = $5 WHERE id = $1",
            [step.Id, QlawJson.EnumName(StepStatus.Failed), error.Message, error.Code, write.Now]);
        var failed = new StepFailed(step.Index, step.Agent, step.Attempt, error.Message, error.Code, !permanent);
        write.Audit(AuditTypes.StepFailed, failed);
        write.Event(RunEvents.Trace(request.RunId, RunEvents.ExecutorFailed, step.Agent, failed, write.Now, step.Index, step.Attempt));
        await write.CommitAsync(cancellationToken);
        TurnCounters.Step(step.Agent, permanent ? "failed_permanently" : "failed_transiently");
    }

    /// <summary>What the run log says of an attempt that stopped before it completed (see <see cref="TurnSettlement.SettleAsync"/>); null while it still runs.</summary>
    public async Task<TurnResult?> AfterStopAsync(long stepId, TurnRequest request, CancellationToken cancellationToken)
    {
        var step = await db.Steps.AsNoTracking().SingleAsync(s => s.Id == stepId, cancellationToken);
        return step.Status == StepStatus.Running ? null : await settlement.SettleAsync(request, step.Index, cancellationToken);
    }
}
