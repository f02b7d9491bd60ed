using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using Qlaw.Contracts;
using Qlaw.Contracts.Events;
using Qlaw.Contracts.Runs;
using Qlaw.Core.Configuration;
using Qlaw.Core.Limits;
using Qlaw.Core.Orchestration;
using Qlaw.Core.Routing;
using Qlaw.Core.RunStore;
using Qlaw.Core.Signals;
using Qlaw.Core.Telemetry;
using Qlaw.Core.Validation;
using Qlaw.Core.Workflows;
using Qlaw.Data;
using Qlaw.Data.Runs;

namespace Qlaw.Core.Runs;

/// <summary>
/// Starts, continues, redirects and cancels runs: the run change and its signal to the Durable Task hub are committed
/// together (the outbox), then the signal is delivered; whatever a crash leaves undelivered, the dispatcher delivers.
/// </summary>
public sealed class RunCommands(
    QlawDbContext db, RunLog log, RunEndings endings, RunSignals signals, IOptionsMonitor<RunOptions> options,
    IOptionsMonitor<RecoveryOptions> recovery, IOptionsMonitor<LimitsOptions> limits, TimeProvider clock)
{
    /// <summary>
    /// Creates a queued run of a workflow for <paramref name="client"/> (its address) and schedules its orchestration,
    /// unless the server or the client is at its cap of active runs; <paramref name="origin"/> says which
    /// <c>/v1/responses</c> call started it, if one did.
    /// </summary>
    public async Task<RunCommandResult> StartAsync(
        string workflowIdOrName, StartRunRequest request, string? idempotencyKey, string? client, CancellationToken cancellationToken, ResponsesOrigin? origin = null)
    {
        var errors = NewRunRules.Validate(request, request.Metadata, idempotencyKey);
        if (errors.Count > 0)
        {
            return new RunCommandResult.Invalid(errors);
        }

        var workflow = await WorkflowCatalog.Named(db, workflowIdOrName).AsNoTracking().FirstOrDefaultAsync(cancellationToken);
        if (workflow is null)
        {
            return new RunCommandResult.NotFound($"No workflow has the id or name '{workflowIdOrName}'.");
        }

        if (idempotencyKey is not null && await FindByKeyAsync(workflow.Id, idempotencyKey, cancellationToken) is { } existing)
        {
            return RunLinksFactory.Accepted(existing);
        }

        var ceilings = limits.CurrentValue;
        if (await ActiveRunCap.FindAsync(db, client, ceilings, cancellationToken) is { } busy)
        {
            return busy;
        }

        var definition = WorkflowCatalog.Parse(workflow.Config);
        var now = clock.GetUtcNow();
        var run = new RunEntity
        {
            Id = TimeOrderedId.New(clock), WorkflowId = workflow.Id, Status = RunStatus.Queued, Input = request.Input,
            Metadata = request.Metadata is { ValueKind: JsonValueKind.Object } metadata ? metadata.GetRawText() : null,
            IdempotencyKey = idempotencyKey, Client = client, CreatedAt = now, UpdatedAt = now, CurrentAgent = definition.StartAgent,
            DefinitionHash = WorkflowCatalog.HashOf(workflow), StartedViaResponses = origin is not null,
            RequestHash = origin?.RequestHash, ConversationId = origin?.ConversationId, ClientKey = origin?.ClientKey,
        };
        run.EntityId = $"run-{run.Id:N}";
        var plan = options.CurrentValue.PlanFor(definition, ceilings);
        var schedule = new RunSignal(run.EntityId, Schedule: new RunOrchestrationInput(run.Id, plan, RouteState.Start(definition.StartAgent), null, null));

        // The run's rows are written under its lock, and the hub is asked to start it while they commit (its first turn
        // waits for the lock): the start's round trips to the hub overlap the commit's. The outbox row still makes the
        // start reach the hub whatever fails meanwhile.
        RunSignalEntity signal;
        Task<string?>? scheduled = null;
        var raced = false;
        await using (var write = await log.OpenAsync(run.Id, cancellationToken))
        {
            write.Insert(run);
            write.Audit(AuditTypes.RunCreated, new RunCreated(workflow.Id, workflow.Name, idempotencyKey, origin is null ? null : "responses", origin?.ConversationId, origin?.FollowUpOf));
            signal = RunSignals.Enqueue(write, RunSignal.ScheduleKind, schedule);
            if (recovery.CurrentValue.CrashAt != RecoveryOptions.RunCommitted)
            {
                scheduled = signals.ScheduleBesideCommitAsync(schedule, cancellationToken);
            }

            try
            {
                await write.CommitAsync(cancellationToken);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation && idempotencyKey is not null)
            {
                raced = true;
            }
        }

        if (raced)
        {
            // A concurrent request with the same key created the run first (the orchestration asked for this one finds
            // no run at its first turn and stops).
            if (scheduled is not null)
            {
                await scheduled;
            }

            return RunLinksFactory.Accepted((await FindByKeyAsync(workflow.Id, idempotencyKey!, cancellationToken))!);
        }

        recovery.CurrentValue.CrashIf(RecoveryOptions.RunCommitted);
        await signals.RecordAsync(db, signal.Id, await scheduled!, CancellationToken.None);
        return RunLinksFactory.Accepted(run);
    }

    /// <summary>
    /// Resumes a dead-lettered run (retrying its failed turn) or a run awaiting input (with that input). When the
    /// orchestration instance is gone, a new one is seeded from PostgreSQL. <paramref name="answered"/> (a
    /// <c>/v1/responses</c> answer) is recorded with the resume, as an <c>InputAnsweredEvent</c> and an audit entry.
    /// </summary>
    public async Task<RunCommandResult> ContinueAsync(Guid runId, ContinueRunRequest request, CancellationToken cancellationToken, InputAnswered? answered = null)
    {
        var (run, error) = await LoadValidAsync(runId, request, cancellationToken);
        if (run is null)
        {
            return error!;
        }

        await using var write = await log.OpenAsync(run.Id, cancellationToken);
        run = await db.Runs.SingleAsync(r => r.Id == runId, cancellationToken);
        var deadLettered = run.Status == RunStatus.Failed && run.CompletedAt is null;
        if (run.Status != RunStatus.AwaitingInput && (!deadLettered || answered is not null))
        {
            return new RunCommandResult.Conflict(run.Status, $"Only a dead-lettered run or a run awaiting input can be continued; this run is {QlawJson.EnumName(run.Status)}.");
        }

        var from = run.Status;
        var decided = from == RunStatus.AwaitingInput && await ToolDecisions.StageAsync(write, run.CurrentStep, request, cancellationToken);
        if (request.Approve is not null && !decided)
        {
            return new RunCommandResult.Invalid(new Dictionary<string, string[]> { ["approve"] = ["No tool call of this run waits for a person's answer."] });
        }

        write.Stage("UPDATE runs SET status = $2, last_error = NULL, last_error_code = NULL, updated_at = $3 WHERE id = $1",
            [run.Id, QlawJson.EnumName(RunStatus.Running), write.Now]);
        write.Audit(AuditTypes.RunResumed, new RunResumed(from, request.Input));
        if (answered is not null)
        {
            write.Audit(AuditTypes.InputAnswered, answered);
            write.Event(RunEvents.Trace(run.Id, RunEvents.InputAnswered, run.CurrentAgent, answered with { IdempotencyKey = null, RequestHash = null, StreamAfter = null }, write.Now, run.CurrentStep));
        }

        // After a pause for input the next step follows; a dead-lettered step is retried.
        var signal = RunSignals.Enqueue(write, RunSignal.ContinueKind, new RunSignal(
            run.EntityId!, Continue: new ContinueSignal(request.Input), StepOffset: from == RunStatus.AwaitingInput ? 1 : 0));
        await write.CommitAsync(cancellationToken);
        await signals.DispatchAsync(signal.Id, cancellationToken);
        await db.Entry(run).ReloadAsync(cancellationToken);
        return RunLinksFactory.Accepted(run);
    }

    /// <summary>Records a handoff to apply at the run's next turn boundary.</summary>
    public async Task<RunCommandResult> HandoffAsync(Guid runId, HandoffRequest request, CancellationToken cancellationToken)
    {
        var (run, error) = await LoadValidAsync(runId, request, cancellationToken);
        if (run is null)
        {
            return error!;
        }

        if (RunEndings.HasEnded(run))
        {
            return new RunCommandResult.Conflict(run.Status, $"The run is {QlawJson.EnumName(run.Status)}; it takes no more handoffs.");
        }

        var definition = await WorkflowCatalog.DefinitionOfAsync(db, run.WorkflowId, cancellationToken);
        if (definition.Agents.All(a => a.Name != request.ToAgent))
        {
            return new RunCommandResult.Invalid(new Dictionary<string, string[]>
            {
                ["to_agent"] = [$"Agent '{request.ToAgent}' is not in the run's workflow ({string.Join(", ", definition.Agents.Select(a => a.Name))})."],
            });
        }

        await using var write = await log.OpenAsync(run.Id, cancellationToken);
        var handoff = new HandoffEntity
        {
            RunId = run.Id,
            FromAgent = run.CurrentAgent,
            ToAgent = request.ToAgent,
            Reason = request.Reason,
            WithReturn = request.WithReturn ?? false,
            CreatedAt = write.Now,
        };
        write.Insert(handoff, id => handoff.Id = id);
        await write.SaveAsync(cancellationToken);
        write.Audit(AuditTypes.HandoffRequested, new HandoffRequested(handoff.Id, run.CurrentAgent, request.ToAgent, request.Reason, handoff.WithReturn));
        await write.CommitAsync(cancellationToken);
        return new RunCommandResult.HandoffRecorded(new HandoffAccepted(run.Id, handoff.Id, "accepted"));
    }

    /// <summary>Cancels a run that has not ended and ends its orchestration.</summary>
    public async Task<RunCommandResult> CancelAsync(Guid runId, CancellationToken cancellationToken)
    {
        if (!await db.Runs.AnyAsync(r => r.Id == runId, cancellationToken))
        {
            return RunNotFound(runId);
        }

        // Under the run's lock: the cancel is the run's last event, after whatever the running attempt wrote before.
        await using var write = await log.OpenAsync(runId, cancellationToken);
        var (cancelled, run) = await endings.CancelAsync(write, cancellationToken);
        if (!cancelled)
        {
            return new RunCommandResult.Conflict(run.Status, $"The run is {QlawJson.EnumName(run.Status)}; it cannot be cancelled.");
        }

        var signal = RunSignals.Enqueue(write, RunSignal.TerminateKind, new RunSignal(run.EntityId!, Reason: "cancelled"));
        await write.CommitAsync(cancellationToken);
        QlawTelemetry.RunsCancelled.Add(1);
        await signals.DispatchAsync(signal.Id, cancellationToken);
        return RunLinksFactory.Accepted(run);
    }

    // Validates a command's body, then loads its run.
    private async Task<(RunEntity? Run, RunCommandResult? Error)> LoadValidAsync(Guid runId, object request, CancellationToken cancellationToken)
    {
        var errors = ContractValidator.Validate(request);
        if (errors.Count > 0)
        {
            return (null, new RunCommandResult.Invalid(errors));
        }

        var run = await db.Runs.FirstOrDefaultAsync(r => r.Id == runId, cancellationToken);
        return run is null ? (null, RunNotFound(runId)) : (run, null);
    }

    private Task<RunEntity?> FindByKeyAsync(Guid workflowId, string key, CancellationToken cancellationToken) =>
        db.Runs.AsNoTracking().FirstOrDefaultAsync(r => r.WorkflowId == workflowId && r.IdempotencyKey == key, cancellationToken);

    internal static RunCommandResult.NotFound RunNotFound(Guid runId) => new($"No run has the id '{runId}'.");
}
