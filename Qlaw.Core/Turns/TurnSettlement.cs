using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Qlaw.Contracts;
using Qlaw.Contracts.Runs;
using Qlaw.Core.Configuration;
using Qlaw.Core.Orchestration;
using Qlaw.Core.Routing;
using Qlaw.Core.RunStore;
using Qlaw.Data;
using Qlaw.Data.Runs;

namespace Qlaw.Core.Turns;

/// <summary>
/// What the run log says of a turn that is not to run, or no longer runs: the outcome its completed attempt recorded
/// (an activity run again, a fork from a run's last step), or stop (the run ended, paused, or another orchestration
/// instance drives it); and the run's end when an outcome ends it.
/// </summary>
public sealed class TurnSettlement(QlawDbContext db, RunEndings endings, IOptionsMonitor<RecoveryOptions> recovery, TimeProvider clock)
{
    // Ends the run before a turn begins, unless it ended already; the write holds nothing else.
    internal async Task FinishAsync(RunLogWrite write, FinishRunRequest end, CancellationToken cancellationToken)
    {
        if (await endings.StageFinishAsync(write, end, null, cancellationToken))
        {
            await write.CommitAsync(cancellationToken);
            TurnCounters.Finished(end);
        }
    }

    // The run's end when the outcome ends it.
    internal static FinishRunRequest? EndOf(TurnRequest request, RouteOutcome? outcome) => outcome switch
    {
        RouteOutcome.Completed completed => End(request.RunId, completed.State, null, completed.Warning),
        RouteOutcome.Failed failed => End(request.RunId, failed.State, new RunError(failed.Code, failed.Reason), null),
        _ => null,
    };

    // The run's end at a routing state: completed unless it failed with failure.
    internal static FinishRunRequest End(Guid runId, RouteState state, RunError? failure, string? warning) =>
        new(runId, state.Step, state.Agent, state.Stack, state.PreviousAgents, failure is null, failure?.Code, failure?.Message, warning);

    /// <summary>
    /// Where the run goes after a completed turn: the agent's decision routed by the plan, unless a handoff requested
    /// through the API waits at the turn's boundary and overrides it. Decided here once; the orchestrator follows it.
    /// </summary>
    internal static RouteOutcome Next(TurnRequest request, RouteDecision decision, PendingHandoff? handoff) =>
        handoff is { } manual
            ? RunRouter.RouteHandoff(request.Plan, request.State, manual.ToAgent, manual.WithReturn, manual.Reason, manual.Id)
            : RunRouter.Route(request.Plan, request.State, decision);

    /// <summary>
    /// The result of a turn whose attempt no longer runs (cancelled, or superseded by another execution of the same
    /// activity after a crash): stop once the run ended or moved to another instance, else the decision of the attempt
    /// that completes the step — waited for while it runs — so that both executions report the same thing. When no
    /// attempt runs or completes in time, the retry policy takes over.
    /// </summary>
    internal async Task<TurnResult> SettleAsync(TurnRequest request, int index, CancellationToken cancellationToken)
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
    internal async Task<TurnResult?> SettledAsync(TurnRequest request, List<StepEntity> attempts, RunRouting run, CancellationToken cancellationToken)
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

    // What decides whether a turn still runs: the run's status and the orchestration instance driving it.
    internal sealed record RunRouting(RunStatus Status, string? EntityId);

    private async Task<PendingHandoff?> PendingHandoffAsync(Guid runId, CancellationToken cancellationToken) =>
        await db.Handoffs.Where(h => h.RunId == runId && h.ResolvedAt == null).OrderBy(h => h.Id)
            .Select(h => new PendingHandoff(h.Id, h.ToAgent, h.WithReturn, h.Reason))
            .FirstOrDefaultAsync(cancellationToken);
}
