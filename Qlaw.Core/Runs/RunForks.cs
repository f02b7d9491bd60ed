using System.Security.Cryptography;
using System.Text;
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
using Qlaw.Core.Workflows;
using Qlaw.Data;
using Qlaw.Data.Runs;

namespace Qlaw.Core.Runs;

/// <summary>
/// Forks a run from one of its completed steps: a new run that shares the source's history up to and including that
/// step — its step rows and their events are copied, the source gets nothing but an audit entry — and goes on from the
/// routing state that step began with, the way <see cref="RunRedriver"/> seeds a run. The new run, its copied history
/// and its schedule signal are one transaction (the outbox), so a crash loses or duplicates nothing.
/// </summary>
public sealed class RunForks(
    QlawDbContext db, RunLog log, RunSignals signals, IOptionsMonitor<RunOptions> options, IOptionsMonitor<RecoveryOptions> recovery,
    IOptionsMonitor<LimitsOptions> limits, TimeProvider clock)
{
    /// <summary>Forks run <paramref name="sourceId"/> after <c>from_step</c> for <paramref name="client"/> (its address).</summary>
    public async Task<RunCommandResult> ForkAsync(Guid sourceId, ForkRunRequest request, string? idempotencyKey, string? client, CancellationToken cancellationToken)
    {
        var errors = NewRunRules.Validate(request, request.Metadata, idempotencyKey);
        if (errors.Count > 0)
        {
            return new RunCommandResult.Invalid(errors);
        }

        var source = await db.Runs.AsNoTracking().FirstOrDefaultAsync(r => r.Id == sourceId, cancellationToken);
        if (source is null)
        {
            return RunCommands.RunNotFound(sourceId);
        }

        var hash = RequestHash(sourceId, request);
        if (idempotencyKey is not null && await ReplayAsync(source.WorkflowId, idempotencyKey, hash, cancellationToken) is { } replay)
        {
            return replay;
        }

        if (await ActiveRunCap.FindAsync(db, client, limits.CurrentValue, cancellationToken) is { } busy)
        {
            return busy;
        }

        // Under the source's lock: no attempt of it writes while its history is read and copied.
        await using var write = await log.OpenAsync(sourceId, cancellationToken);
        var fromStep = request.FromStep!.Value;
        var kept = await db.Steps.AsNoTracking()
            .Where(s => s.RunId == sourceId && s.Index == fromStep && s.Status == StepStatus.Completed).FirstOrDefaultAsync(cancellationToken);
        if (kept?.RouteState is null)
        {
            return await StepRefusedAsync(sourceId, fromStep, kept is not null, cancellationToken);
        }

        var workflow = await db.Workflows.AsNoTracking().SingleAsync(w => w.Id == source.WorkflowId, cancellationToken);
        var definition = WorkflowCatalog.Parse(workflow.Config);
        var state = JsonSerializer.Deserialize<RouteState>(kept.RouteState, QlawJson.Options)!;
        if (state.Stack.Concat(state.PreviousAgents).Append(state.Agent).FirstOrDefault(a => definition.Agents.All(d => d.Name != a)) is { } gone)
        {
            return new RunCommandResult.Conflict(source.Status, $"The workflow no longer has agent '{gone}', whom step {fromStep} needs; the run cannot be forked there.");
        }

        var plan = options.CurrentValue.PlanFor(definition, limits.CurrentValue);
        var (seed, refusal) = ForkSeed.Of(plan, state, JsonSerializer.Deserialize<RouteDecision>(kept.Decision!, QlawJson.Options)!, request.Input);
        if (seed is null)
        {
            return new RunCommandResult.Invalid(new Dictionary<string, string[]> { ["input"] = [refusal!] });
        }

        var definitionHash = WorkflowCatalog.HashOf(workflow);
        var fork = NewRun(source, request, seed.State, idempotencyKey, hash, client, definitionHash, write.Now);
        write.Insert(fork);
        bool? changed = source.DefinitionHash is null ? null : source.DefinitionHash != definitionHash;
        var forked = new RunForked(sourceId, fork.Id, fromStep, request.Input, seed.State.Agent, changed, changed switch
        {
            true => "The workflow's definition changed since the source run was created: the fork runs on the current definition.",
            null => "The source run does not record the definition it ran with: the fork runs on the current definition.",
            false => null,
        }, idempotencyKey);
        write.Audit(AuditTypes.RunCreated, new RunCreated(workflow.Id, workflow.Name, idempotencyKey, "fork"), of: fork.Id);
        write.Audit(AuditTypes.RunForkedFrom, forked, of: fork.Id);
        write.Audit(AuditTypes.RunForked, forked);
        try
        {
            await write.SaveAsync(cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation && idempotencyKey is not null)
        {
            // A concurrent request with the same key forked first.
            await write.DisposeAsync();
            return (await ReplayAsync(source.WorkflowId, idempotencyKey, hash, cancellationToken))!;
        }

        CopyHistory(write, sourceId, fork.Id, fromStep);
        var signal = RunSignals.Enqueue(write, RunSignal.ScheduleKind, new RunSignal(
            fork.EntityId!, Schedule: new RunOrchestrationInput(fork.Id, plan, seed.State, seed.Transition, seed.Input, seed.Warning)), of: fork.Id);
        await write.CommitAsync(cancellationToken);
        recovery.CurrentValue.CrashIf(RecoveryOptions.RunCommitted);
        await signals.DispatchAsync(signal.Id, cancellationToken);
        return RunLinksFactory.Accepted(fork);
    }

    private RunEntity NewRun(
        RunEntity source, ForkRunRequest request, RouteState state, string? idempotencyKey, string hash, string? client, string definitionHash, DateTimeOffset now)
    {
        var id = TimeOrderedId.New(clock);
        return new RunEntity
        {
            Id = id,
            WorkflowId = source.WorkflowId,
            Status = RunStatus.Queued,
            Input = source.Input,
            Metadata = request.Metadata is { ValueKind: JsonValueKind.Object } metadata ? metadata.GetRawText() : source.Metadata,
            IdempotencyKey = idempotencyKey,
            RequestHash = hash,
            CreatedAt = now,
            UpdatedAt = now,
            CurrentStep = state.Step,
            CurrentAgent = state.Agent,
            OriginStack = JsonSerializer.Serialize(state.Stack, QlawJson.Options),
            ReturnCounts = JsonSerializer.Serialize(state.Returns, QlawJson.Options),
            Chain = JsonSerializer.Serialize(state.PreviousAgents, QlawJson.Options),
            EntityId = $"run-{id:N}",
            Client = client,
            ForkedFrom = source.Id,
            FromStep = request.FromStep,
            DefinitionHash = definitionHash,
        };
    }

    // The source's finished attempts up to the step, their tool calls with their recorded results (the fork's turns replay
    // them, never call again), and the events they wrote (run-level events — a pause, the end — carry no step and stay
    // behind). Ids inside the events (items, requests) name the new run, as its own would.
    private void CopyHistory(RunLogWrite write, Guid sourceId, Guid forkId, int fromStep)
    {
        Copy<StepEntity>("\"index\" <= $3 AND status <> 'running'");
        Copy<ToolCallEntity>("step_index <= $3");
        Copy<RunEventEntity>("step_index <= $3", "\"data\"");

        // Every column of the rows but the id, by EF Core's model of them, with the fork's run id (and data naming it).
        void Copy<T>(string where, string? data = null)
            where T : class
        {
            var rows = EntityRows.Of<T>(db.Model);
            var columns = string.Join(", ", rows.ColumnNames.Where(c => c is not ("\"id\"" or "\"run_id\"") && c != data));
            var (target, source) = data is null ? ("", "") : ($", {data}", ", replace(data::text, $4, $5)::jsonb");
            write.Stage(
                $"INSERT INTO {rows.Table} (\"run_id\"{target}, {columns}) SELECT $1{source}, {columns} FROM {rows.Table} WHERE run_id = $2 AND {where} ORDER BY id",
                data is null ? [forkId, sourceId, fromStep] : [forkId, sourceId, fromStep, sourceId.ToString("N"), forkId.ToString("N")]);
        }
    }

    // Why from_step cannot be forked from: no completed attempt (yet), or one recorded before forks existed.
    private async Task<RunCommandResult> StepRefusedAsync(Guid sourceId, int fromStep, bool predatesForks, CancellationToken cancellationToken)
    {
        var last = await db.Steps.Where(s => s.RunId == sourceId && s.Status == StepStatus.Completed).MaxAsync(s => (int?)s.Index, cancellationToken);
        var reason = predatesForks
            ? $"Step {fromStep} was recorded before runs could be forked; it has no routing state to start from."
            : last is null
                ? "The run has no completed step yet to fork from."
                : $"Step {fromStep} is not a completed step of the run: give a step from 0 to {last}, its last completed step.";
        return new RunCommandResult.Invalid(new Dictionary<string, string[]> { ["from_step"] = [reason] });
    }

    private async Task<RunCommandResult?> ReplayAsync(Guid workflowId, string key, string hash, CancellationToken cancellationToken)
    {
        var earlier = await db.Runs.AsNoTracking().FirstOrDefaultAsync(r => r.WorkflowId == workflowId && r.IdempotencyKey == key, cancellationToken);
        return earlier is null ? null : earlier.RequestHash == hash ? RunLinksFactory.Accepted(earlier) : RunCommandResult.KeyReused.Of(key);
    }

    // What makes two fork requests the same: the source and the body as it binds.
    private static string RequestHash(Guid sourceId, ForkRunRequest request) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"fork {sourceId}\n{JsonSerializer.Serialize(request, QlawJson.Options)}")));
}

/// <summary>Where a fork starts: the state, transition, input and routing warning of its first turn.</summary>
internal sealed record ForkSeed(RouteState State, Transition? Transition, string? Input, string? Warning)
{
    /// <summary>
    /// The turn after the kept step, routed from that step's decision as the orchestrator routes it (now with the fork's
    /// input); when that decision ends the run, the kept step itself, whose recorded decision is replayed as after a
    /// re-drive. Null with the reason when the input cannot be given.
    /// </summary>
    public static (ForkSeed? Seed, string? Refusal) Of(RoutingPlan plan, RouteState kept, RouteDecision decision, string? input) =>
        RunRouter.Route(plan, kept, decision) switch
        {
            RouteOutcome.Proceed next => (new(next.State, next.Transition, input, next.Warning), null),
            RouteOutcome.AwaitInput wait when input is not null => (new(wait.State, null, input, null), null),
            RouteOutcome.AwaitInput => (null, $"Step {kept.Step} asked for input: give the answer as input."),
            _ when input is not null => (null, $"Step {kept.Step} ended the run: no agent follows it to take input."),
            _ => (new(kept, null, null, null), null),
        };
}
