namespace Qlaw.Core.Orchestration;

/// <summary>What an agent asked for at the end of its turn (a routing tool call, or none).</summary>
public enum RouteAction
{
    /// <summary>No routing call: control follows the agent's default edge, else the run completes.</summary>
    EndTurn,

    /// <summary><c>handoff_to_&lt;agent&gt;</c>: control moves, the origin stack is unchanged.</summary>
    Handoff,

    /// <summary><c>consult_&lt;agent&gt;</c>: the current agent is pushed as origin, control moves.</summary>
    Consult,

    /// <summary><c>return_to_previous</c>: pop the origin and resume it.</summary>
    ReturnToPrevious,

    /// <summary><c>request_input</c>: pause until <c>continue</c> brings the user's input.</summary>
    RequestInput,

    /// <summary><c>complete</c>: the run ends.</summary>
    Complete,
}

/// <summary>An agent's routing decision.</summary>
public sealed record RouteDecision(RouteAction Action, string? Target = null, string? Reason = null);

/// <summary>
/// The routing rules of one workflow, small enough to travel in the orchestration's input so the orchestrator
/// never reads the database. <paramref name="MaxTotalTokens"/> (the run's token budget) and <paramref name="MaxTurnChars"/>
/// (the cap on one turn's text) are fixed when the run is planned (<see cref="Runs.RunOptions.PlanFor"/>); null in plans
/// made before they existed.
/// </summary>
public sealed record RoutingPlan(
    IReadOnlyDictionary<string, AgentEdges> Agents,
    string StartAgent,
    int MaxSteps,
    int MaxReturns,
    RetrySettings Retry,
    int? MaxTotalTokens = null,
    int? MaxTurnChars = null);

/// <summary>Where one agent may pass control.</summary>
public sealed record AgentEdges(IReadOnlyList<string> Handoffs, IReadOnlyList<string> Consults, string? DefaultNext);

/// <summary>Retry policy of agent turns, resolved from the workflow and configuration.</summary>
public sealed record RetrySettings(int MaxAttempts, int FirstIntervalMs, double BackoffCoefficient, int MaxIntervalMs);

/// <summary>The routing state the orchestrator carries from turn to turn (and Postgres snapshots).</summary>
/// <param name="Agent">Agent that takes the next turn.</param>
/// <param name="Step">Index of the next turn.</param>
/// <param name="Stack">Origin stack, bottom first (a list: Stack&lt;T&gt; reverses when serialized).</param>
/// <param name="Returns">Times work was returned to each agent.</param>
public sealed record RouteState(string Agent, int Step, IReadOnlyList<string> Stack, IReadOnlyDictionary<string, int> Returns)
{
    public static RouteState Start(string agent) => new(agent, 0, [], new Dictionary<string, int>());
}
