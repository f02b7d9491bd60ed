using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Qlaw.Contracts;
using Qlaw.Core.Limits;
using Qlaw.Core.Orchestration;
using Qlaw.Core.Routing;
using Qlaw.Core.RunStore;
using Qlaw.Core.Workflows;
using Qlaw.Data;

namespace Qlaw.Core.Signals;

/// <summary>
/// Seeds a new orchestration instance for a run from its PostgreSQL row: the run's current step is run again — a step
/// recorded as completed replays its recorded decision instead of calling the model — with the origin stack and return
/// counts as stored. The path of <c>continue</c> when the instance is gone, and of the reconciler.
/// </summary>
public sealed class RunRedriver(IRunScheduler scheduler, IOptionsMonitor<RunOptions> options, IOptionsMonitor<LimitsOptions> limits)
{
    /// <summary>
    /// Stages the run's new orchestration instance in <paramref name="write"/> (the caller commits it) and schedules
    /// it; the new instance's first turn waits for the run's lock, so it reads the run as the write leaves it. What it
    /// reads, it reads in the write's transaction: a recovery the write saved counts in the new instance's generation.
    /// </summary>
    /// <param name="stepOffset">1 to go on after the current step (it asked for input and got it), else 0.</param>
    public async Task<string> ReseedAsync(RunLogWrite write, int stepOffset, string? input, CancellationToken cancellationToken)
    {
        var db = write.Db;
        var run = await db.Runs.AsNoTracking().SingleAsync(r => r.Id == write.RunId, cancellationToken);
        var definition = await WorkflowCatalog.DefinitionOfAsync(db, run.WorkflowId, cancellationToken);
        var stack = JsonSerializer.Deserialize<List<string>>(run.OriginStack, QlawJson.Options)!;
        var returns = JsonSerializer.Deserialize<Dictionary<string, int>>(run.ReturnCounts, QlawJson.Options)!;
        var chain = JsonSerializer.Deserialize<List<string>>(run.Chain, QlawJson.Options)!;
        var state = new RouteState(run.CurrentAgent ?? definition.StartAgent, run.CurrentStep + stepOffset, stack, returns, chain);
        var plan = options.CurrentValue.PlanFor(definition, limits.CurrentValue);

        // A run that never began a turn starts as it was accepted: a fork's first schedule also carries the transition
        // into its first turn and the fork's input, which the row does not hold.
        var seed = run.Status == RunStatus.Queued && stepOffset == 0 ? await FirstScheduleAsync(db, run.Id, cancellationToken) : null;

        // A new instance id per seeding; the old instance, should it wake, is fenced off by the id (TurnJournal).
        var generation = await db.AuditLogs.CountAsync(
            a => a.RunId == run.Id && (a.Type == AuditTypes.RunResumed || a.Type == AuditTypes.RunRecovered), cancellationToken);
        var instance = $"run-{run.Id:N}-r{generation}";
        write.Stage("UPDATE runs SET entity_id = $2 WHERE id = $1", [run.Id, instance]);
        await scheduler.ScheduleAsync(
            instance, seed is null ? new RunOrchestrationInput(run.Id, plan, state, null, input) : seed with { Plan = plan }, cancellationToken);
        return instance;
    }

    private static async Task<RunOrchestrationInput?> FirstScheduleAsync(QlawDbContext db, Guid runId, CancellationToken cancellationToken)
    {
        var payload = await db.RunSignals.Where(s => s.RunId == runId && s.Kind == RunSignal.ScheduleKind)
            .OrderBy(s => s.Id).Select(s => s.Payload).FirstOrDefaultAsync(cancellationToken);
        return payload is null ? null : JsonSerializer.Deserialize<RunSignal>(payload, QlawJson.Options)!.Schedule;
    }
}
