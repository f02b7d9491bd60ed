using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Qlaw.Core.Routing;

namespace Qlaw.Core.Orchestration;

/// <summary>
/// Sequences a run's agent turns. Deterministic and replay-safe: each turn's activity decides where the run goes and
/// records it, and this follows the outcome it returned (the routing state lives in local variables rebuilt by replay);
/// every read and write happens in activities.
/// </summary>
public sealed partial class RunOrchestrator : TaskOrchestrator<RunOrchestrationInput, string>
{
    public const string Name = nameof(RunOrchestrator);

    /// <summary>The activities it calls, by name (registered by each host, see <c>QlawOrchestration</c>).</summary>
    public const string AgentTurn = "AgentTurnActivity";
    public const string DeadLetter = "DeadLetterActivity";

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

            if (result.PermanentError is { } error)
            {
                await DeadLetterAndWaitAsync(context, signals, new DeadLetterRequest(input.RunId, state, error, Permanent: true));
                (transition, warning) = (null, null);
                continue;
            }

            // The turn's activity routed its decision and recorded the outcome (the run's end included); this follows it.
            switch (result.Outcome)
            {
                case RouteOutcome.Proceed next:
                    (state, transition, userInput, warning) = (next.State, next.Transition, null, next.Warning);
                    break;
                case RouteOutcome.AwaitInput wait:
                    var signal = await signals.NextAsync();
                    (state, transition, userInput, warning) = (wait.State, null, signal.Input, null);
                    break;
                case RouteOutcome.Completed:
                    return "completed";
                case RouteOutcome.Failed:
                    return "failed";
                default:
                    LogStopped(logger, input.RunId);
                    return "stopped";
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
