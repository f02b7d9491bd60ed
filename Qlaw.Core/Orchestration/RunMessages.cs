namespace Qlaw.Core.Orchestration;

/// <summary>Input of <see cref="RunOrchestrator"/>: a new run, or one re-seeded from PostgreSQL.</summary>
public sealed record RunOrchestrationInput(Guid RunId, RoutingPlan Plan, RouteState State, Transition? Transition, string? Input);

/// <summary>
/// Input of the agent-turn activity: the turn to run and the transition that led to it. With the run's
/// <paramref name="Plan"/> the activity routes the turn's decision as the orchestrator will, and when that ends the
/// run it finishes the run in the turn's own transaction (no separate finish activity).
/// </summary>
public sealed record TurnRequest(Guid RunId, string InstanceId, RouteState State, Transition? Transition, string? Input, string? Warning, RoutingPlan? Plan = null);

/// <summary>A handoff requested through the API, waiting for the next turn boundary.</summary>
public sealed record PendingHandoff(long Id, string ToAgent, bool WithReturn, string? Reason);

/// <summary>Output of the agent-turn activity.</summary>
/// <param name="Decision">The agent's routing decision; null when the turn did not complete.</param>
/// <param name="Stopped">The run was cancelled or finished meanwhile: the orchestration ends.</param>
/// <param name="PermanentError">The turn failed in a way retrying cannot fix.</param>
/// <param name="Finished">The turn's decision completed the run and the activity recorded that.</param>
public sealed record TurnResult(RouteDecision? Decision, bool Stopped, string? PermanentError, PendingHandoff? Handoff, bool Finished = false)
{
    public static TurnResult Stop { get; } = new(null, true, null, null);
}

/// <summary>Input of the dead-letter activity: retries of a turn are exhausted.</summary>
public sealed record DeadLetterRequest(Guid RunId, RouteState State, string Error, bool Permanent);

/// <summary>Input of the finish activity: the run ends completed or failed.</summary>
public sealed record FinishRunRequest(Guid RunId, RouteState State, bool Succeeded, string? Reason, string? Warning);

/// <summary>External event raised by <c>POST /v1/runs/{id}/continue</c>.</summary>
public sealed record ContinueSignal(string? Input)
{
    public const string EventName = "continue";
}
