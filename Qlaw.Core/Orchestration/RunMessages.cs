using Microsoft.DurableTask;
using Qlaw.Contracts.Runs;
using Qlaw.Core.Routing;

namespace Qlaw.Core.Orchestration;

/// <summary>
/// Input of <see cref="RunOrchestrator"/>: a new run, or one re-seeded from PostgreSQL (or forked from a step, whose
/// routing may carry a <paramref name="Warning"/> into the first turn).
/// </summary>
public sealed record RunOrchestrationInput(Guid RunId, RoutingPlan Plan, RouteState State, Transition? Transition, string? Input, string? Warning = null);

/// <summary>
/// Input of the agent-turn activity: the turn to run and the transition that led to it. With the run's
/// <paramref name="Plan"/> the activity routes the turn's decision as the orchestrator will, and when that ends the
/// run it finishes the run in the turn's own transaction (no separate finish activity).
/// </summary>
public sealed record TurnRequest(Guid RunId, string InstanceId, RouteState State, Transition? Transition, string? Input, string? Warning, RoutingPlan? Plan = null);

/// <summary>A handoff requested through the API, waiting for the next turn boundary.</summary>
public sealed record PendingHandoff(long Id, string ToAgent, bool WithReturn, string? Reason);

/// <summary>What went wrong, as a client sees it: a stable code (<see cref="RunErrorCodes"/>) and a message of Qlaw's own.</summary>
public sealed record RunError(string Code, string Message)
{
    /// <summary>
    /// The error of a turn whose retries ran out. Only <see cref="TurnFailedException"/> carries a message meant for
    /// clients; anything else is reported as an internal error (its text stays in the server log).
    /// </summary>
    public static RunError FromFailure(TaskFailureDetails failure)
    {
        if (failure.ErrorType == typeof(TurnFailedException).FullName && failure.ErrorMessage.IndexOf(": ", StringComparison.Ordinal) is > 0 and var colon)
        {
            return new(failure.ErrorMessage[..colon], failure.ErrorMessage[(colon + 2)..]);
        }

        return new(RunErrorCodes.Internal, "The turn failed unexpectedly; the server log has the details.");
    }
}

/// <summary>
/// A turn attempt failed in a way the retry policy retries. Its message is <c>code: message</c> of a
/// <see cref="RunError"/> — safe to show — because the hub hands it to the orchestrator when retries run out.
/// </summary>
public sealed class TurnFailedException(RunError error, Exception? inner = null) : Exception($"{error.Code}: {error.Message}", inner)
{
    public RunError Error => error;
}

/// <summary>Output of the agent-turn activity.</summary>
/// <param name="Decision">The agent's routing decision; null when the turn did not complete.</param>
/// <param name="Stopped">The run was cancelled or finished meanwhile: the orchestration ends.</param>
/// <param name="PermanentError">The turn failed in a way retrying cannot fix.</param>
/// <param name="Finished">The turn's decision completed the run and the activity recorded that.</param>
public sealed record TurnResult(RouteDecision? Decision, bool Stopped, RunError? PermanentError, PendingHandoff? Handoff, bool Finished = false)
{
    public static TurnResult Stop { get; } = new(null, true, null, null);
}

/// <summary>Input of the dead-letter activity: retries of a turn are exhausted.</summary>
public sealed record DeadLetterRequest(Guid RunId, RouteState State, RunError Error, bool Permanent);

/// <summary>Input of the finish activity: the run ends completed or failed (with <paramref name="Failure"/>).</summary>
public sealed record FinishRunRequest(Guid RunId, RouteState State, bool Succeeded, RunError? Failure, string? Warning);

/// <summary>
/// External event raised by <c>POST /v1/runs/{id}/continue</c>. <paramref name="Id"/> is the outbox signal's id: a
/// signal raised twice (a crash between raising it and recording that) is applied once.
/// </summary>
public sealed record ContinueSignal(string? Input, long Id = 0)
{
    public const string EventName = "continue";
}
