using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;

namespace Qlaw.Core.Orchestration;

/// <summary>
/// Sequences a run's agent turns. Deterministic and replay-safe: the routing state (agent, step, origin stack, return
/// counts) lives in local variables rebuilt by replay; every read and write happens in activities.
/// </summary>
public sealed partial class RunOrchestrator : TaskOrchestrator<RunOrchestrationInput, string>
{
    public const string Name = nameof(RunOrchestrator);

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
        string? warning = null;

        while (true)
        {
            var request = new TurnRequest(input.RunId, context.InstanceId, state, transition, userInput, warning, plan);
            TurnResult result;
            try
            {
                result = await context.CallActivityAsync<TurnResult>(AgentTurnActivity.Name, request, retry);
            }
            catch (TaskFailedException failed)
            {
                await DeadLetterAndWaitAsync(context, new DeadLetterRequest(input.RunId, state, failed.FailureDetails.ErrorMessage, Permanent: false));
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
                await DeadLetterAndWaitAsync(context, new DeadLetterRequest(input.RunId, state, error, Permanent: true));
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
                    var signal = await context.WaitForExternalEvent<ContinueSignal>(ContinueSignal.EventName);
                    (state, transition, userInput, warning) = (wait.State, null, signal.Input, null);
                    break;
                case RouteOutcome.Completed completed:
                    // The turn's activity finished the run itself unless a replayed turn was already done.
                    if (!result.Finished)
                    {
                        await context.CallActivityAsync(FinishRunActivity.Name, new FinishRunRequest(input.RunId, completed.State, true, null, completed.Warning));
                    }

                    return "completed";
                case RouteOutcome.Failed failed:
                    await context.CallActivityAsync(FinishRunActivity.Name, new FinishRunRequest(input.RunId, failed.State, false, failed.Reason, null));
                    return "failed";
            }
        }
    }

    // Dead-lettered runs do not end: they wait for POST /v1/runs/{id}/continue and retry the same turn.
    private static async Task DeadLetterAndWaitAsync(TaskOrchestrationContext context, DeadLetterRequest request)
    {
        await context.CallActivityAsync(DeadLetterActivity.Name, request);
        await context.WaitForExternalEvent<ContinueSignal>(ContinueSignal.EventName);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} stopped: it was cancelled or ended elsewhere")]
    private static partial void LogStopped(ILogger logger, Guid runId);
}
