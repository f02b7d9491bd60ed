using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Qlaw.Contracts;
using Qlaw.Core.Workflows;
using Qlaw.Core.Agents;
using Qlaw.Core.Orchestration;
using Qlaw.Core.Streaming;
using Qlaw.Core.Telemetry;
using Qlaw.Data;
using Qlaw.Data.Runs;

namespace Qlaw.Core.Runs;

/// <summary>How a turn begins: already done (a re-run of a completed activity), not at all, or as a new attempt.</summary>
public abstract record TurnStart
{
    private TurnStart()
    {
    }

    public sealed record Finished(TurnResult Result) : TurnStart;

    public sealed record Started(long StepId, AgentTurnContext Context) : TurnStart;
}

/// <summary>
/// Everything the agent-turn, dead-letter and finish activities write. Activities run at least once, so every write is
/// keyed (run, step, attempt) or conditional on the run's state: running one twice never duplicates a step or a transition.
/// </summary>
public sealed class RunJournal(QlawDbContext db, TimeProvider clock)
{
    /// <summary>Records the transition into the turn (once per step) and a new attempt of it.</summary>
    public async Task<TurnStart> BeginTurnAsync(TurnRequest request, CancellationToken cancellationToken)
    {
        var (runId, state) = (request.RunId, request.State);
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        // One writer per run at a time: fences a zombie attempt left by a crashed worker.
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock(hashtextextended({runId.ToString()}, 0))", cancellationToken);

        var attempts = await db.Steps.Where(s => s.RunId == runId && s.Index == state.Step).ToListAsync(cancellationToken);
        if (attempts.FirstOrDefault(s => s.Status == StepStatus.Completed) is { } done)
        {
            return new TurnStart.Finished(new TurnResult(JsonSerializer.Deserialize<RouteDecision>(done.Decision!, QlawJson.Options), false, null, await PendingHandoffAsync(runId, cancellationToken)));
        }

        var run = await db.Runs.SingleAsync(r => r.Id == runId, cancellationToken);
        if (run.Status is RunStatus.Completed or RunStatus.Cancelled or RunStatus.Failed or RunStatus.AwaitingInput)
        {
            return new TurnStart.Finished(TurnResult.Stop);
        }

        // A run re-driven from PostgreSQL has a new orchestration instance; an old one that wakes up stops here.
        if (run.EntityId is not null && !string.Equals(run.EntityId, request.InstanceId, StringComparison.Ordinal))
        {
            return new TurnStart.Finished(TurnResult.Stop);
        }

        var now = clock.GetUtcNow();
        foreach (var crashed in attempts.Where(s => s.Status == StepStatus.Running))
        {
            crashed.Status = StepStatus.Superseded;
            crashed.CompletedAt = now;
            AuditTypes.Add(db, runId, AuditTypes.StepSuperseded, new { step = state.Step, crashed.Agent, crashed.Attempt }, now);
        }

        var attempt = attempts.Count == 0 ? 1 : attempts.Max(s => s.Attempt) + 1;
        if (attempts.Count == 0)
        {
            await RecordTransitionAsync(runId, state, request, now, cancellationToken);
        }

        var firstTurn = run.Status == RunStatus.Queued;
        if (firstTurn)
        {
            run.StartedAt = now;
            AuditTypes.Add(db, runId, AuditTypes.RunStarted, new { agent = state.Agent }, now);
        }

        run.Status = RunStatus.Running;
        run.CurrentStep = state.Step;
        run.CurrentAgent = state.Agent;
        run.OriginStack = JsonSerializer.Serialize(state.Stack, QlawJson.Options);
        run.ReturnCounts = JsonSerializer.Serialize(state.Returns, QlawJson.Options);
        run.UpdatedAt = now;

        var step = new StepEntity
        {
            RunId = runId,
            Index = state.Step,
            Attempt = attempt,
            Agent = state.Agent,
            Input = state.Step == 0 ? run.Input : request.Input,
            Status = StepStatus.Running,
            StartedAt = now,
            CheckpointRef = $"{request.InstanceId}#{state.Step}",
        };
        db.Steps.Add(step);
        db.RunEvents.Add(RunEvents.Trace(runId, RunEvents.ExecutorInvoked, state.Agent, new { step = state.Step, attempt, agent = state.Agent }, now, state.Step, attempt));
        var previousError = attempts.OrderByDescending(s => s.Attempt).FirstOrDefault()?.Error;
        AuditTypes.Add(
            db, runId, attempt == 1 ? AuditTypes.StepStarted : AuditTypes.StepRetrying,
            new { step = state.Step, agent = state.Agent, attempt, previous_error = previousError }, now);
        await db.SaveChangesAsync(cancellationToken);
        await RunEventNotifications.NotifyAsync(db, runId, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        if (firstTurn)
        {
            QlawTelemetry.RunsStarted.Add(1);
        }

        if (attempt > 1)
        {
            QlawTelemetry.StepRetries.Add(1, new KeyValuePair<string, object?>(QlawTelemetry.AgentTag, state.Agent));
        }

        var workflow = await WorkflowCatalog.DefinitionOfAsync(db, run.WorkflowId, cancellationToken);
        var history = await HistoryAsync(run, state.Step, cancellationToken);

        // The agent's completed turns before this one are its entries in the history (one per completed step).
        var agentTurns = history.Count(e => e.Role == "assistant" && e.AuthorName == state.Agent);
        if (state.Step > 0 && request.Input is { } input)
        {
            history.Add(new("user", null, input));
        }

        var agent = workflow.Agents.Single(a => a.Name == state.Agent);
        return new TurnStart.Started(step.Id, new AgentTurnContext(runId, state.Step, attempt, agentTurns, agent, workflow, history));
    }

    /// <summary>
    /// Records a completed turn; returns a handoff requested through the API meanwhile, if any. When no handoff is
    /// pending and <paramref name="finish"/> is given (the decision ends the run), the run is finished in the same
    /// transaction and <c>Finished</c> is true.
    /// </summary>
    public async Task<(PendingHandoff? Handoff, bool Finished)> CompleteTurnAsync(
        long stepId, AgentTurnContext context, AgentTurnOutput output, FinishRunRequest? finish, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var step = await db.Steps.SingleAsync(s => s.Id == stepId, cancellationToken);
        if (step.Status != StepStatus.Running)
        {
            throw new TransientAgentException($"Attempt {step.Attempt} of step {step.Index} was superseded.");
        }

        step.Status = StepStatus.Completed;
        step.Output = output.Text;
        step.Decision = JsonSerializer.Serialize(output.Decision, QlawJson.Options);
        step.CompletedAt = now;
        var completed = new
        {
            step = step.Index,
            agent = step.Agent,
            attempt = step.Attempt,
            duration_ms = (now - step.StartedAt).TotalMilliseconds,
            decision = output.Decision.Action,
            target = output.Decision.Target,
            input_tokens = output.InputTokens,
            output_tokens = output.OutputTokens,
        };
        AuditTypes.Add(db, context.RunId, AuditTypes.StepCompleted, completed, now);
        db.RunEvents.Add(RunEvents.Trace(context.RunId, RunEvents.ExecutorCompleted, step.Agent, completed, now, step.Index, step.Attempt));

        var handoff = await PendingHandoffAsync(context.RunId, cancellationToken);
        if (handoff is null && output.Decision.Action == RouteAction.RequestInput)
        {
            var prompt = output.Prompt ?? output.Text;
            await db.Runs.Where(r => r.Id == context.RunId && r.Status == RunStatus.Running).ExecuteUpdateAsync(
                u => u.SetProperty(r => r.Status, RunStatus.AwaitingInput).SetProperty(r => r.UpdatedAt, now), cancellationToken);
            AuditTypes.Add(db, context.RunId, AuditTypes.InputRequested, new { step = step.Index, agent = step.Agent, prompt }, now);
            var conversation = context.History
                .Append(new ConversationEntry("assistant", step.Agent, output.Text))
                .Select(e => (object)new { role = e.Role, author_name = e.AuthorName, text = e.Text });
            db.RunEvents.Add(RunEvents.InputRequest(context.RunId, step.Index, step.Attempt, step.Agent, prompt, conversation, now));
            db.RunEvents.Add(RunEvents.Completed(context.RunId, RunStatus.AwaitingInput, null, now));
        }

        // Staged after the step's rows so that the run's last events follow the step's.
        await db.SaveChangesAsync(cancellationToken);
        var finished = handoff is null && finish is not null && await StageFinishAsync(finish, now, (step.Agent, step.Output), cancellationToken);
        await RunEventNotifications.NotifyAsync(db, context.RunId, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        CountStep(step.Agent, "completed");
        if (finished)
        {
            CountFinished(finish!);
        }

        return (handoff, finished);
    }

    /// <summary>Records a failed attempt.</summary>
    public async Task FailTurnAsync(long stepId, TurnRequest request, string error, bool permanent, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var step = await db.Steps.SingleAsync(s => s.Id == stepId, cancellationToken);
        step.Status = StepStatus.Failed;
        step.Error = error;
        step.CompletedAt = now;
        var failed = new { step = step.Index, agent = step.Agent, attempt = step.Attempt, error, transient = !permanent };
        AuditTypes.Add(db, request.RunId, AuditTypes.StepFailed, failed, now);
        db.RunEvents.Add(RunEvents.Trace(request.RunId, RunEvents.ExecutorFailed, step.Agent, failed, now, step.Index, step.Attempt));
        await db.SaveChangesAsync(cancellationToken);
        await RunEventNotifications.NotifyAsync(db, request.RunId, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        CountStep(step.Agent, permanent ? "failed_permanently" : "failed_transiently");
    }

    /// <summary>Retries are exhausted: the run fails with the error and waits for <c>continue</c>.</summary>
    public async Task DeadLetterAsync(DeadLetterRequest request, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var changed = await db.Runs.Where(r => r.Id == request.RunId && (r.Status == RunStatus.Running || r.Status == RunStatus.Queued)).ExecuteUpdateAsync(
            u => u.SetProperty(r => r.Status, RunStatus.Failed).SetProperty(r => r.LastError, request.Error).SetProperty(r => r.UpdatedAt, now),
            cancellationToken);
        if (changed > 0)
        {
            var attempts = await db.Steps.CountAsync(s => s.RunId == request.RunId && s.Index == request.State.Step && s.Status == StepStatus.Failed, cancellationToken);
            var lastGood = await db.Steps.Where(s => s.RunId == request.RunId && s.Status == StepStatus.Completed).MaxAsync(s => (int?)s.Index, cancellationToken);
            var detail = new
            {
                error = request.Error,
                attempts,
                permanent = request.Permanent,
                step = request.State.Step,
                agent = request.State.Agent,
                last_good_step = lastGood,
            };
            AuditTypes.Add(db, request.RunId, AuditTypes.RunDeadLettered, detail, now);
            db.RunEvents.Add(RunEvents.Trace(request.RunId, RunEvents.WorkflowError, request.State.Agent, detail, now));
            db.RunEvents.Add(RunEvents.Error(request.RunId, request.Error, now));
            await db.SaveChangesAsync(cancellationToken);
            await RunEventNotifications.NotifyAsync(db, request.RunId, cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        if (changed > 0)
        {
            QlawTelemetry.RunsFailed.Add(1, new KeyValuePair<string, object?>(QlawTelemetry.DeadLetteredTag, true));
        }
    }

    /// <summary>Ends the run as completed or failed, unless it already ended.</summary>
    public async Task FinishAsync(FinishRunRequest request, CancellationToken cancellationToken)
    {
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var changed = await StageFinishAsync(request, clock.GetUtcNow(), null, cancellationToken);
        if (changed)
        {
            await RunEventNotifications.NotifyAsync(db, request.RunId, cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        if (changed)
        {
            CountFinished(request);
        }
    }

    // Ends the run in the caller's transaction unless it already ended; false when it had. The last completed step
    // (its agent and output) is the run's output; the caller passes it when it has just written it.
    private async Task<bool> StageFinishAsync(FinishRunRequest request, DateTimeOffset now, (string? Agent, string? Output)? lastStep, CancellationToken cancellationToken)
    {
        var status = request.Succeeded ? RunStatus.Completed : RunStatus.Failed;
        var changed = await db.Runs
            .Where(r => r.Id == request.RunId && r.Status != RunStatus.Completed && r.Status != RunStatus.Cancelled && r.Status != RunStatus.Failed)
            .ExecuteUpdateAsync(
                u => u.SetProperty(r => r.Status, status)
                    .SetProperty(r => r.CompletedAt, now)
                    .SetProperty(r => r.UpdatedAt, now)
                    .SetProperty(r => r.LastError, request.Reason)
                    .SetProperty(r => r.CurrentStep, request.State.Step)
                    .SetProperty(r => r.OriginStack, JsonSerializer.Serialize(request.State.Stack, QlawJson.Options)),
                cancellationToken);
        if (changed == 0)
        {
            return false;
        }

        if (request.Warning is not null)
        {
            AuditTypes.Add(db, request.RunId, AuditTypes.RouteRejected, new { reason = request.Warning }, now);
        }

        AuditTypes.Add(db, request.RunId, request.Succeeded ? AuditTypes.RunCompleted : AuditTypes.RunFailed, new { steps = request.State.Step, reason = request.Reason }, now);
        if (request.Succeeded)
        {
            var (agent, output) = lastStep ?? await db.Steps.Where(s => s.RunId == request.RunId && s.Status == StepStatus.Completed)
                .OrderByDescending(s => s.Index).Select(s => new ValueTuple<string?, string?>(s.Agent, s.Output)).FirstOrDefaultAsync(cancellationToken);
            db.RunEvents.Add(RunEvents.Trace(request.RunId, RunEvents.WorkflowOutput, agent, new { steps = request.State.Step, output }, now));
            db.RunEvents.Add(RunEvents.Completed(request.RunId, RunStatus.Completed, output, now));
        }
        else
        {
            db.RunEvents.Add(RunEvents.Trace(request.RunId, RunEvents.WorkflowError, request.State.Agent, new { error = request.Reason, step = request.State.Step }, now));
            db.RunEvents.Add(RunEvents.Error(request.RunId, request.Reason ?? "The run failed.", now));
        }

        await db.SaveChangesAsync(cancellationToken);
        return true;
    }

    private static void CountFinished(FinishRunRequest request)
    {
        if (request.Succeeded)
        {
            QlawTelemetry.RunsCompleted.Add(1);
        }
        else
        {
            QlawTelemetry.RunsFailed.Add(1, new KeyValuePair<string, object?>(QlawTelemetry.DeadLetteredTag, false));
        }
    }

    private static void CountStep(string agent, string outcome) =>
        QlawTelemetry.Steps.Add(1, new(QlawTelemetry.AgentTag, agent), new(QlawTelemetry.OutcomeTag, outcome));

    private async Task RecordTransitionAsync(Guid runId, RouteState state, TurnRequest request, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (request.Warning is not null)
        {
            AuditTypes.Add(db, runId, AuditTypes.RouteRejected, new { step = state.Step, reason = request.Warning }, now);
        }

        if (request.Transition is not { } transition)
        {
            return;
        }

        var withReturn = transition.Kind == Transition.ConsultKind;
        if (transition.HandoffId is { } handoffId)
        {
            await db.Handoffs.Where(h => h.Id == handoffId && h.ResolvedAt == null)
                .ExecuteUpdateAsync(u => u.SetProperty(h => h.ResolvedAt, now), cancellationToken);
        }
        else
        {
            db.Handoffs.Add(new HandoffEntity
            {
                RunId = runId,
                FromAgent = transition.From,
                ToAgent = transition.To,
                Reason = transition.Reason ?? (transition.Kind == Transition.ReturnKind ? RouteCall.ReturnToPrevious : null),
                WithReturn = withReturn,
                CreatedAt = now,
                ResolvedAt = now,
            });
        }

        var detail = new
        {
            step = state.Step,
            from = transition.From,
            to = transition.To,
            kind = transition.Kind,
            reason = transition.Reason,
            stack_depth = transition.StackDepth,
            stack = state.Stack,
            handoff_id = transition.HandoffId,
        };
        db.RunEvents.Add(RunEvents.Trace(runId, RunEvents.Handoff, transition.From, detail, now, state.Step));
        AuditTypes.Add(db, runId, transition.Kind == Transition.ReturnKind ? AuditTypes.Return : AuditTypes.Handoff, detail, now);
    }

    private async Task<PendingHandoff?> PendingHandoffAsync(Guid runId, CancellationToken cancellationToken) =>
        await db.Handoffs.Where(h => h.RunId == runId && h.ResolvedAt == null).OrderBy(h => h.Id)
            .Select(h => new PendingHandoff(h.Id, h.ToAgent, h.WithReturn, h.Reason))
            .FirstOrDefaultAsync(cancellationToken);

    private async Task<List<ConversationEntry>> HistoryAsync(RunEntity run, int beforeStep, CancellationToken cancellationToken)
    {
        var steps = await db.Steps.AsNoTracking()
            .Where(s => s.RunId == run.Id && s.Index < beforeStep && s.Status == StepStatus.Completed)
            .OrderBy(s => s.Index)
            .Select(s => new { s.Index, s.Agent, s.Input, s.Output })
            .ToListAsync(cancellationToken);
        var history = new List<ConversationEntry> { new("user", null, run.Input) };
        foreach (var step in steps)
        {
            if (step.Index > 0 && step.Input is { } input)
            {
                history.Add(new("user", null, input));
            }

            history.Add(new("assistant", step.Agent, step.Output ?? ""));
        }

        return history;
    }
}
