using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using Qlaw.Contracts;
using Qlaw.Contracts.Events;
using Qlaw.Contracts.Runs;
using Qlaw.Core.Agents;
using Qlaw.Core.Configuration;
using Qlaw.Core.Orchestration;
using Qlaw.Core.Routing;
using Qlaw.Core.Streaming;
using Qlaw.Core.Telemetry;
using Qlaw.Core.Tools;
using Qlaw.Core.Workflows;
using Qlaw.Data;
using Qlaw.Data.Runs;

namespace Qlaw.Core.RunStore;

/// <summary>How a turn begins: already done (a re-run of a completed activity), not at all, or as a new attempt.</summary>
public abstract record TurnStart
{
    private TurnStart()
    {
    }

    public sealed record Finished(TurnResult Result) : TurnStart;

    /// <summary>
    /// A new attempt, whose first write <paramref name="Attempt"/> is still to send and commit (its owner disposes it);
    /// its step row's id is known once that write is committed.
    /// </summary>
    public sealed record Started(AgentTurnContext Context, PendingAttempt Attempt) : TurnStart;
}

/// <summary>
/// The life of a turn's attempts in the run log: begun, completed or failed. Activities run at least once and a crashed
/// worker's attempt may still be running, so every write is under the run's lock (<see cref="RunLog"/>) and keyed by
/// (run, step, attempt), and only the attempt whose step row is still <c>running</c> may complete or fail it.
/// </summary>
public sealed class TurnJournal(QlawDbContext db, RunLog log, RunEndings endings, IOptionsMonitor<RecoveryOptions> recovery, TimeProvider clock)
{
    /// <summary>
    /// Records the transition into the turn (once per step) and a new attempt of it, written under the run's lock and
    /// left for the caller to commit (<see cref="PendingAttempt"/>).
    /// </summary>
    public async Task<TurnStart> BeginTurnAsync(TurnRequest request, CancellationToken cancellationToken)
    {
        // The run with its workflow and its steps so far (this step's attempts and the conversation before it), read in
        // the lock's round trip.
        var reads = Reads();
        var (write, (run, steps, calls)) = await log.OpenAsync(request.RunId, reads.Begin(request.RunId, request.State.Step), reads.ReadBeginAsync, cancellationToken);
        TurnStart? start = null;
        try
        {
            start = await BeginAsync(write, request, run, steps, calls, cancellationToken);
            return start;
        }
        finally
        {
            if (start is not TurnStart.Started)
            {
                await write.DisposeAsync();
            }
        }
    }

    private async Task<TurnStart> BeginAsync(
        RunLogWrite write, TurnRequest request, TurnReads.RunForTurn? run, List<StepEntity> steps, List<ToolCallRecord> calls, CancellationToken cancellationToken)
    {
        var (runId, state) = (request.RunId, request.State);
        if (run is null)
        {
            // No such run: its start was not committed (the hub is asked to start a run while its rows commit, see
            // RunCommands.StartAsync), or it was deleted since. Its orchestration has nothing to do.
            return new TurnStart.Finished(TurnResult.Stop);
        }

        var attempts = steps.Where(s => s.Index == state.Step).ToList();
        if (await SettledAsync(request, attempts, new(run.Status, run.EntityId), cancellationToken) is { } settled)
        {
            // A completed step whose outcome ends the run, found before the run ended: a fork from the run's last step.
            if (EndOf(request, settled.Outcome) is { } end)
            {
                await FinishAsync(write, end, cancellationToken);
            }

            return new TurnStart.Finished(settled);
        }

        // Every attempt's tokens count, failed ones too: a run whose budget is spent makes no more model calls.
        if (request.Plan.MaxTotalTokens is { } budget && run.TokensUsed >= budget)
        {
            await FinishAsync(write, new FinishRunRequest(runId, state, false, BudgetError(run.TokensUsed, budget), null), cancellationToken);
            return new TurnStart.Finished(TurnResult.Stop);
        }

        var now = write.Now;
        foreach (var crashed in attempts.Where(s => s.Status == StepStatus.Running))
        {
            write.Stage("UPDATE steps SET status = $1, completed_at = $2 WHERE id = $3 AND status = $4",
                [QlawJson.EnumName(StepStatus.Superseded), now, crashed.Id, QlawJson.EnumName(StepStatus.Running)]);
            write.Audit(AuditTypes.StepSuperseded, new StepSuperseded(state.Step, crashed.Agent, crashed.Attempt));
            write.StopRunningAttempt();
        }

        var attempt = attempts.Count == 0 ? 1 : attempts.Max(s => s.Attempt) + 1;
        if (attempts.Count == 0)
        {
            RecordTransition(write, state, request);
        }

        // The run's row is updated from what the turn knows, without reading it back.
        var firstTurn = run.Status == RunStatus.Queued;
        if (firstTurn)
        {
            write.Audit(AuditTypes.RunStarted, new RunStarted(state.Agent));
        }

        write.Stage(
            "UPDATE runs SET status = $2, current_step = $3, current_agent = $4, origin_stack = $5, chain = $6, return_counts = $7, " +
            "updated_at = $8, started_at = CASE WHEN $9 THEN $8 ELSE started_at END WHERE id = $1",
            [runId, QlawJson.EnumName(RunStatus.Running), state.Step, state.Agent, Jsonb(state.Stack), Jsonb(state.PreviousAgents), Jsonb(state.Returns), now, firstTurn]);

        // Staged, not sent: the attempt's rows go to the database with its first text and the commit, in one round trip.
        var stepInput = state.Step == 0 ? run.Input : request.Input;
        var pending = new PendingAttempt(write);
        var (insert, values) = EntityRows.Of<StepEntity>(db.Model).Insert(
            new StepEntity
            {
                RunId = runId, Index = state.Step, Attempt = attempt, Agent = state.Agent, Input = stepInput, Status = StepStatus.Running,
                StartedAt = now, CheckpointRef = $"{request.InstanceId}#{state.Step}", RouteState = JsonSerializer.Serialize(state, QlawJson.Options),
            },
            "id");
        write.Stage(insert, values, pending.SetStepId);
        write.Event(RunEvents.Trace(runId, RunEvents.ExecutorInvoked, state.Agent, new ExecutorInvoked(state.Step, attempt, state.Agent), now, state.Step, attempt));
        var previousError = attempts.OrderByDescending(s => s.Attempt).FirstOrDefault()?.Error;
        write.Audit(attempt == 1 ? AuditTypes.StepStarted : AuditTypes.StepRetrying, new StepStarted(state.Step, state.Agent, attempt, previousError));
        if (firstTurn)
        {
            QlawTelemetry.RunsStarted.Add(1);
        }

        if (attempt > 1)
        {
            QlawTelemetry.StepRetries.Add(1, new KeyValuePair<string, object?>(QlawTelemetry.AgentTag, state.Agent));
        }

        var workflow = WorkflowCatalog.Parse(run.Config);
        var history = RunConversation.Before(run.Input, steps, state.Step);

        // The agent's completed turns before this one are its entries in the history (one per completed step).
        var agentTurns = history.Count(e => e.Role == "assistant" && e.AuthorName == state.Agent);
        if (state.Step > 0 && request.Input is { } input)
        {
            history.Add(new("user", null, input));
        }

        var agent = workflow.Agents.Single(a => a.Name == state.Agent);
        return new TurnStart.Started(new AgentTurnContext(runId, state.Step, attempt, agentTurns, agent, workflow, history, calls), pending);
    }

    /// <summary>
    /// Records a completed attempt and where the run goes after it (<see cref="Next"/>): the next turn, a pause for input,
    /// or the run's end, in the same write. When the attempt no longer runs (cancelled, superseded) the result is what
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
        var reads = Reads();
        var (opened, (row, handoff, tokensUsed)) = await log.OpenAsync(context.RunId, reads.Complete(context.RunId, step.Id), reads.ReadCompleteAsync, cancellationToken);
        await using var checkedWrite = opened;
        if (row.Status != StepStatus.Running)
        {
            await checkedWrite.DisposeAsync();
            return await SettleAsync(request, row.Index, cancellationToken);
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
            [step.Id, QlawJson.EnumName(StepStatus.Completed), output.Text, Jsonb(output.Decision), now, QlawJson.EnumName(StepStatus.Running)]);
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

        var outcome = Next(request, output.Decision, handoff);
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

        var finish = EndOf(request, outcome);
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

    // Ends the run before a turn begins, unless it ended already; the write holds nothing else.
    private async Task FinishAsync(RunLogWrite write, FinishRunRequest end, CancellationToken cancellationToken)
    {
        if (await endings.StageFinishAsync(write, end, null, cancellationToken))
        {
            await write.CommitAsync(cancellationToken);
            TurnCounters.Finished(end);
        }
    }

    // The run's end when the outcome ends it.
    private static FinishRunRequest? EndOf(TurnRequest request, RouteOutcome? outcome) => outcome switch
    {
        RouteOutcome.Completed completed => new FinishRunRequest(request.RunId, completed.State, true, null, completed.Warning),
        RouteOutcome.Failed failed => new FinishRunRequest(request.RunId, failed.State, false, new RunError(failed.Code, failed.Reason), null),
        _ => null,
    };

    /// <summary>
    /// Where the run goes after a completed turn: the agent's decision routed by the plan, unless a handoff requested
    /// through the API waits at the turn's boundary and overrides it. Decided here once; the orchestrator follows it.
    /// </summary>
    private static RouteOutcome Next(TurnRequest request, RouteDecision decision, PendingHandoff? handoff) =>
        handoff is { } manual
            ? RunRouter.RouteHandoff(request.Plan, request.State, manual.ToAgent, manual.WithReturn, manual.Reason, manual.Id)
            : RunRouter.Route(request.Plan, request.State, decision);

    // The attempt being completed: its step row and what the turn knows of it.
    private sealed record AttemptRow(long Id, int Index, int Attempt, string Agent, DateTimeOffset StartedAt);

    // The turn's tokens as the model reported them, each half estimated from the text when it did not.
    private static long Tokens(AgentTurnContext context, AgentTurnOutput output) =>
        (output.InputTokens ?? TokenEstimate.Input(context)) + (output.OutputTokens ?? TokenEstimate.Output(output.Text.Length));

    private static RunError BudgetError(long used, long budget) =>
        new(RunErrorCodes.BudgetExceeded, $"The run used {used} tokens, over its budget of {budget} (limits.max_total_tokens).");

    // Adds the turn's tokens to the run's count (read under the lock with the step); the failure to finish the run with
    // when that passes the budget.
    // tokensUsed is null when the write expects the run within its budget.
    private static FinishRunRequest? OverBudget(RunLogWrite write, TurnRequest request, long tokens, long? tokensUsed)
    {
        write.Stage("UPDATE runs SET tokens_used = tokens_used + $2 WHERE id = $1", [request.RunId, tokens]);
        var used = tokensUsed + tokens;
        return request.Plan.MaxTotalTokens is { } budget && used > budget
            ? new FinishRunRequest(request.RunId, request.State with { Step = request.State.Step + 1 }, false, BudgetError(used.Value, budget), null)
            : null;
    }

    /// <summary>
    /// Adds the tokens of an attempt that did not complete — cut, stopped, cancelled, superseded — to its run's count:
    /// a model call costs whether or not its turn completes. The next attempt of an over-budget run does not start.
    /// </summary>
    public async Task CountTokensAsync(Guid runId, long tokens, CancellationToken cancellationToken) =>
        await db.Runs.Where(r => r.Id == runId).ExecuteUpdateAsync(u => u.SetProperty(r => r.TokensUsed, r => r.TokensUsed + tokens), cancellationToken);

    /// <summary>
    /// Records a failed attempt with its error, after the text it streamed that was not written yet (<paramref name="tail"/>);
    /// nothing when the attempt no longer runs.
    /// </summary>
    public async Task FailTurnAsync(long stepId, TurnRequest request, RunError error, bool permanent, string? tail, long tokens, CancellationToken cancellationToken)
    {
        await using var write = await log.OpenAsync(request.RunId, cancellationToken);
        var step = await db.Steps.SingleAsync(s => s.Id == stepId, cancellationToken);
        write.Stage("UPDATE runs SET tokens_used = tokens_used + $2 WHERE id = $1", [request.RunId, tokens]);
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

        step.Status = StepStatus.Failed;
        step.Waiting = null;
        step.Error = error.Message;
        step.ErrorCode = error.Code;
        step.CompletedAt = write.Now;
        var failed = new StepFailed(step.Index, step.Agent, step.Attempt, error.Message, error.Code, !permanent);
        write.Audit(AuditTypes.StepFailed, failed);
        write.Event(RunEvents.Trace(request.RunId, RunEvents.ExecutorFailed, step.Agent, failed, write.Now, step.Index, step.Attempt));
        await write.CommitAsync(cancellationToken);
        TurnCounters.Step(step.Agent, permanent ? "failed_permanently" : "failed_transiently");
    }

    /// <summary>What the run log says of an attempt that stopped before it completed (see <see cref="SettleAsync"/>); null while it still runs.</summary>
    public async Task<TurnResult?> AfterStopAsync(long stepId, TurnRequest request, CancellationToken cancellationToken)
    {
        var step = await db.Steps.AsNoTracking().SingleAsync(s => s.Id == stepId, cancellationToken);
        return step.Status == StepStatus.Running ? null : await SettleAsync(request, step.Index, cancellationToken);
    }

    /// <summary>
    /// The result of a turn whose attempt no longer runs (cancelled, or superseded by another execution of the same
    /// activity after a crash): stop once the run ended or moved to another instance, else the decision of the attempt
    /// that completes the step — waited for while it runs — so that both executions report the same thing. When no
    /// attempt runs or completes in time, the retry policy takes over.
    /// </summary>
    private async Task<TurnResult> SettleAsync(TurnRequest request, int index, CancellationToken cancellationToken)
    {
        var started = clock.GetTimestamp();
        while (true)
        {
            var attempts = await db.Steps.AsNoTracking().Where(s => s.RunId == request.RunId && s.Index == index).ToListAsync(cancellationToken);
            var run = await db.Runs.AsNoTracking().Where(r => r.Id == request.RunId).Select(r => new RunRouting(r.Status, r.EntityId)).SingleAsync(cancellationToken);
            if (await SettledAsync(request, attempts, run, cancellationToken) is { } settled)
            {
                return settled;
            }

            if (attempts.All(s => s.Status != StepStatus.Running) || clock.GetElapsedTime(started).TotalSeconds > recovery.CurrentValue.StaleAfterSeconds)
            {
                throw new TurnFailedException(new(RunErrorCodes.Internal, $"An attempt of step {index} was superseded and no other attempt completed it."));
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), clock, cancellationToken);
        }
    }

    /// <summary>
    /// What the run log says of a turn before any attempt of it runs: a completed attempt's decision (an activity run
    /// again), or stop (the run ended, paused, or is driven by another orchestration instance now); null when the turn
    /// is to run.
    /// </summary>
    private async Task<TurnResult?> SettledAsync(TurnRequest request, List<StepEntity> attempts, RunRouting run, CancellationToken cancellationToken)
    {
        if (attempts.FirstOrDefault(s => s.Status == StepStatus.Completed) is { } done)
        {
            // The same outcome the completing attempt recorded: its decision, or the API handoff that waited for it.
            var decision = JsonSerializer.Deserialize<RouteDecision>(done.Decision!, QlawJson.Options)!;
            return new TurnResult(Next(request, decision, await PendingHandoffAsync(request.RunId, cancellationToken)));
        }

        var ended = run.Status is RunStatus.Completed or RunStatus.Cancelled or RunStatus.Failed or RunStatus.AwaitingInput;

        // A run re-driven from PostgreSQL has a new orchestration instance; an old one that wakes up stops here.
        var fenced = run.EntityId is not null && !string.Equals(run.EntityId, request.InstanceId, StringComparison.Ordinal);
        return ended || fenced ? TurnResult.Stop : null;
    }

    private static void RecordTransition(RunLogWrite write, RouteState state, TurnRequest request)
    {
        if (request.Warning is not null)
        {
            RouteWarnings.Record(write, state.Step, request.Transition?.From, request.Warning);
        }

        if (request.Transition is not { } transition)
        {
            return;
        }

        if (transition.HandoffId is { } handoffId)
        {
            write.Stage("UPDATE handoffs SET resolved_at = $2 WHERE id = $1 AND resolved_at IS NULL", [handoffId, write.Now]);
        }
        else
        {
            write.Stage(
                "INSERT INTO handoffs (run_id, from_agent, to_agent, reason, with_return, created_at, resolved_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                [write.RunId, transition.From, transition.To, transition.Reason ?? (transition.Kind == Transition.ReturnKind ? RouteCall.ReturnToPrevious : null),
                 transition.Kind == Transition.ConsultKind, write.Now]);
        }

        var detail = new HandoffOccurred(
            state.Step, transition.From, transition.To, transition.Kind, transition.Reason, transition.StackDepth, state.Stack, state.PreviousAgents, transition.HandoffId);
        write.Event(RunEvents.Trace(write.RunId, RunEvents.Handoff, transition.From, detail, write.Now, state.Step));
        write.Audit(transition.Kind == Transition.ReturnKind ? AuditTypes.Return : AuditTypes.Handoff, detail);
    }

    private TurnReads Reads() => new(EntityRows.Of<StepEntity>(db.Model));

    private static NpgsqlParameter Jsonb<T>(T value) => RunLog.Jsonb(JsonSerializer.Serialize(value, QlawJson.Options));

    // What decides whether a turn still runs: the run's status and the orchestration instance driving it.
    private sealed record RunRouting(RunStatus Status, string? EntityId);

    private async Task<PendingHandoff?> PendingHandoffAsync(Guid runId, CancellationToken cancellationToken) =>
        await db.Handoffs.Where(h => h.RunId == runId && h.ResolvedAt == null).OrderBy(h => h.Id)
            .Select(h => new PendingHandoff(h.Id, h.ToAgent, h.WithReturn, h.Reason))
            .FirstOrDefaultAsync(cancellationToken);
}
