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
/// <paramref name="Plan"/> the activity routes the turn's decision, records where the run goes in the turn's own
/// transaction — ending the run there when the route ends it — and returns that outcome for the orchestrator to follow.
/// </summary>
public sealed record TurnRequest(Guid RunId, string InstanceId, RouteState State, Transition? Transition, string? Input, string? Warning, RoutingPlan Plan);

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

/// <summary>
/// Output of the agent-turn activity. The orchestrator follows it as it is (it is in the orchestration's history, so a
/// replay follows the same way) and never routes again.
/// </summary>
/// <param name="Outcome">
/// Where the run goes after the turn, already recorded: the next turn, a pause for input, or the run's end (written in
/// the turn's commit). Null when the turn did not complete.
/// </param>
/// <param name="PermanentError">The turn failed in a way retrying cannot fix: the run is dead-lettered.</param>
public sealed record TurnResult(RouteOutcome? Outcome, RunError? PermanentError = null)
{
    /// <summary>The run was cancelled, ended or moved to another orchestration instance: this orchestration ends.</summary>
    public static TurnResult Stop { get; } = new(Outcome: null);
}

/// <summary>Input of the dead-letter activity: retries of a turn are exhausted.</summary>
public sealed record DeadLetterRequest(Guid RunId, RouteState State, RunError Error, bool Permanent);


/// <summary>
/// External event raised by <c>POST /v1/runs/{id}/continue</c>. <paramref name="Id"/> is the outbox signal's id: a
/// signal raised twice (a crash between raising it and recording that) is applied once.
/// </summary>
public sealed record ContinueSignal(string? Input, long Id = 0)
{
    public const string EventName = "continue";
}
