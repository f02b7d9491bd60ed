using System.Text.Json;
using Qlaw.Contracts;
using Qlaw.Contracts.Events;
using Qlaw.Core.Agents;
using Qlaw.Core.Orchestration;
using Qlaw.Core.Routing;
using Qlaw.Core.RunStore;
using Qlaw.Core.Telemetry;
using Qlaw.Core.Tools;
using Qlaw.Core.Workflows;
using Qlaw.Data;
using Qlaw.Data.Runs;

namespace Qlaw.Core.Turns;

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
/// Begins a turn's attempt in the run log: the transition into the turn (once per step), a new attempt superseding one a
/// crashed worker left running, staged under the run's lock for the caller to commit (<see cref="PendingAttempt"/>) —
/// unless the run log says the turn is not to run (<see cref="TurnSettlement"/>).
/// </summary>
public sealed class TurnStarter(QlawDbContext db, RunLog log, TurnSettlement settlement)
{
    /// <summary>
    /// Records the transition into the turn (once per step) and a new attempt of it, written under the run's lock and
    /// left for the caller to commit (<see cref="PendingAttempt"/>).
    /// </summary>
    public async Task<TurnStart> BeginTurnAsync(TurnRequest request, CancellationToken cancellationToken)
    {
        // The run with its workflow and its steps so far (this step's attempts and the conversation before it), read in
        // the lock's round trip.
        var reads = new TurnReads(db.Model);
        var (write, (run, config, steps, calls)) = await log.OpenAsync(request.RunId, reads.Begin(request.RunId, request.State.Step), reads.ReadBeginAsync, cancellationToken);
        TurnStart? start = null;
        try
        {
            start = await BeginAsync(write, request, run, config, steps, calls, cancellationToken);
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
        RunLogWrite write, TurnRequest request, RunEntity? run, string config, List<StepEntity> steps, List<ToolCallRecord> calls, CancellationToken cancellationToken)
    {
        var (runId, state) = (request.RunId, request.State);
        if (run is null)
        {
            // No such run: its start was not committed (the hub is asked to start a run while its rows commit, see
            // RunCommands.StartAsync), or it was deleted since. Its orchestration has nothing to do.
            return new TurnStart.Finished(TurnResult.Stop);
        }

        var attempts = steps.Where(s => s.Index == state.Step).ToList();
        if (await settlement.SettledAsync(request, attempts, new(run.Status, run.EntityId), cancellationToken) is { } settled)
        {
            // A completed step whose outcome ends the run, found before the run ended: a fork from the run's last step.
            if (TurnSettlement.EndOf(request, settled.Outcome) is { } end)
            {
                await settlement.FinishAsync(write, end, cancellationToken);
            }

            return new TurnStart.Finished(settled);
        }

        // Every attempt's tokens count, failed ones too: a run whose budget is spent makes no more model calls.
        if (request.Plan.MaxTotalTokens is { } budget && run.TokensUsed >= budget)
        {
            await settlement.FinishAsync(write, TurnSettlement.End(runId, state, TurnJournal.BudgetError(run.TokensUsed, budget), null), cancellationToken);
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
            [runId, QlawJson.EnumName(RunStatus.Running), state.Step, state.Agent, RunLog.JsonbOf(state.Stack), RunLog.JsonbOf(state.PreviousAgents), RunLog.JsonbOf(state.Returns), now, firstTurn]);

        // Staged, not sent: the attempt's rows go to the database with its first text and the commit, in one round trip.
        var stepInput = state.Step == 0 ? run.Input : request.Input;
        var pending = new PendingAttempt(write);
        write.Insert(
            new StepEntity
            {
                RunId = runId, Index = state.Step, Attempt = attempt, Agent = state.Agent, Input = stepInput, Status = StepStatus.Running,
                StartedAt = now, CheckpointRef = $"{request.InstanceId}#{state.Step}", RouteState = JsonSerializer.Serialize(state, QlawJson.Options),
            },
            pending.SetStepId);
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

        var workflow = WorkflowCatalog.Parse(config);
        var history = Conversation(run.Input, steps, state.Step);

        // The agent's completed turns before this one are its entries in the history (one per completed step).
        var agentTurns = history.Count(e => e.Role == "assistant" && e.AuthorName == state.Agent);
        if (state.Step > 0 && request.Input is { } input)
        {
            history.Add(new("user", null, input));
        }

        var agent = workflow.Agents.Single(a => a.Name == state.Agent);
        return new TurnStart.Started(new AgentTurnContext(runId, state.Step, attempt, agentTurns, agent, workflow, history, calls), pending);
    }

    // The conversation before the step as the next agent sees it: the run's task, then each completed turn (and the
    // input it got), from the run's step rows (any order, any status).
    private static List<ConversationEntry> Conversation(string task, IEnumerable<StepEntity> steps, int beforeStep)
    {
        var history = new List<ConversationEntry> { new("user", null, task) };
        foreach (var step in steps.Where(s => s.Index < beforeStep && s.Status == StepStatus.Completed).OrderBy(s => s.Index))
        {
            if (step.Index > 0 && step.Input is { } input)
            {
                history.Add(new("user", null, input));
            }

            var decision = step.Decision is { } json ? JsonSerializer.Deserialize<RouteDecision>(json, QlawJson.Options) : null;
            history.Add(new("assistant", step.Agent, step.Output ?? "", decision));
        }

        return history;
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
            write.Insert(new HandoffEntity
            {
                RunId = write.RunId, FromAgent = transition.From, ToAgent = transition.To,
                Reason = transition.Reason ?? (transition.Kind == Transition.ReturnKind ? RouteCall.ReturnToPrevious : null),
                WithReturn = transition.Kind == Transition.ConsultKind, CreatedAt = write.Now, ResolvedAt = write.Now,
            });
        }

        var detail = new HandoffOccurred(
            state.Step, transition.From, transition.To, transition.Kind, transition.Reason, transition.StackDepth, state.Stack, state.PreviousAgents, transition.HandoffId);
        write.Event(RunEvents.Trace(write.RunId, RunEvents.Handoff, transition.From, detail, write.Now, state.Step));
        write.Audit(transition.Kind == Transition.ReturnKind ? AuditTypes.Return : AuditTypes.Handoff, detail);
    }
}
