using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Qlaw.Core.Routing;

namespace Qlaw.Core.Orchestration;

/// <summary>
/// Sequences a run's agent turns. Deterministic and replay-safe: the routing state (agent, step, origin stack, chain,
/// return counts) lives in local variables rebuilt by replay; every read and write happens in activities.
/// </summary>
public sealed partial class RunOrchestrator : TaskOrchestrator<RunOrchestrationInput, string>
{
    public const string Name = nameof(RunOrchestrator);

    /// <summary>The activities it calls, by name (registered by each host, see <c>QlawOrchestration</c>).</summary>
    public const string AgentTurn = "AgentTurnActivity";
    public const string DeadLetter = "DeadLetterActivity";
    public const string FinishRun = "FinishRunActivity";

    public override async Task<string> RunAsync(TaskOrchestrationContext context, RunOrchestrationInput input)
    {
        var logger = context.CreateReplaySafeLogger<RunOrchestrator>();
        var plan = input.Plan;
        var retry = TaskOptions.FromRetryPolicy(new RetryPolicy(
            plan.Retry.MaxAttempts,
            TimeSpan.FromMilliseconds(plan.Retry.FirstIntervalMs),
            plan.Retry.BackoffCoefficient,
            TimeSpan.FromMilliseconds(plan.Retry.MaxIntervalMs)));
        var (state, transition, userInput) = (input.State, input.Transition, input.Input);
        var signals = new ContinueSignals(context);
        var warning = input.Warning;

        while (true)
        {
            var request = new TurnRequest(input.RunId, context.InstanceId, state, transition, userInput, warning, plan);
            TurnResult result;
            try
            {
                result = await context.CallActivityAsync<TurnResult>(AgentTurn, request, retry);
            }
            catch (TaskFailedException failed)
            {
                await DeadLetterAndWaitAsync(context, signals, new DeadLetterRequest(input.RunId, state, RunError.FromFailure(failed.FailureDetails), Permanent: false));
                (transition, warning) = (null, null);
                continue;
            }

            if (result.Stopped)
            {
                LogStopped(logger, input.RunId);
                return "stopped";
            }

            if (result.PermanentError is { } error)
            {
                await DeadLetterAndWaitAsync(context, signals, new DeadLetterRequest(input.RunId, state, error, Permanent: true));
                (transition, warning) = (null, null);
                continue;
            }

            var outcome = result.Handoff is { } manual
                ? RunRouter.Limit(plan, RunRouter.ApplyManualHandoff(state with { Step = state.Step + 1 }, state.Agent, manual.ToAgent, manual.WithReturn, manual.Reason, manual.Id))
                : RunRouter.Route(plan, state, result.Decision!);
            switch (outcome)
            {
                case RouteOutcome.Proceed next:
                    (state, transition, userInput, warning) = (next.State, next.Transition, null, next.Warning);
                    break;
                case RouteOutcome.AwaitInput wait:
                    var signal = await signals.NextAsync();
                    (state, transition, userInput, warning) = (wait.State, null, signal.Input, null);
                    break;
                case RouteOutcome.Completed completed:
                    // The turn's activity finished the run itself unless a replayed turn was already done.
                    if (!result.Finished)
                    {
                        await context.CallActivityAsync(FinishRun, new FinishRunRequest(input.RunId, completed.State, true, null, completed.Warning));
                    }

                    return "completed";
                case RouteOutcome.Failed failed:
                    await context.CallActivityAsync(FinishRun, new FinishRunRequest(input.RunId, failed.State, false, new RunError(failed.Code, failed.Reason), null));
                    return "failed";
            }
        }
    }

    // Dead-lettered runs do not end: they wait for POST /v1/runs/{id}/continue and retry the same turn.
    private static async Task DeadLetterAndWaitAsync(TaskOrchestrationContext context, ContinueSignals signals, DeadLetterRequest request)
    {
        await context.CallActivityAsync(DeadLetter, request);
        await signals.NextAsync();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} stopped: it was cancelled or ended elsewhere")]
    private static partial void LogStopped(ILogger logger, Guid runId);

    /// <summary>
    /// The <c>continue</c> events of one orchestration, each applied once: the outbox delivers at least once, so a
    /// signal raised again after a crash arrives twice, and the copy must not answer the next pause.
    /// </summary>
    private sealed class ContinueSignals(TaskOrchestrationContext context)
    {
        private readonly HashSet<long> _applied = [];

        public async Task<ContinueSignal> NextAsync()
        {
            while (true)
            {
                var signal = await context.WaitForExternalEvent<ContinueSignal>(ContinueSignal.EventName);
                if (signal.Id == 0 || _applied.Add(signal.Id))
                {
                    return signal;
                }
            }
        }
    }
}
