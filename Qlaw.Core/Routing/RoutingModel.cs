namespace Qlaw.Core.Routing;

/// <summary>What an agent asked for at the end of its turn (a routing tool call, or none).</summary>
public enum RouteAction
{
    /// <summary>No routing call: control follows the agent's default edge, else the run completes.</summary>
    EndTurn,

    /// <summary><c>handoff_to_&lt;agent&gt;</c>: control moves, the origin stack is unchanged.</summary>
    Handoff,

    /// <summary><c>consult_&lt;agent&gt;</c>: the current agent is pushed as origin, control moves.</summary>
    Consult,

    /// <summary><c>return_to_previous</c>: back to the previous agent in the chain (the origin stack first).</summary>
    ReturnToPrevious,

    /// <summary><c>request_input</c>: pause until <c>continue</c> brings the user's input.</summary>
    RequestInput,

    /// <summary><c>complete</c>: the run ends.</summary>
    Complete,

    /// <summary>A call of a tool the agent was not offered, or with arguments that do not parse (the name is the target).</summary>
    Invalid,
}

/// <summary>
/// An agent's routing decision. A model that made several routing calls in one turn has the one followed here
/// (<paramref name="CallId"/>) and the others in <paramref name="Ignored"/>; the next turns' conversation tells it so.
/// </summary>
public sealed record RouteDecision(RouteAction Action, string? Target = null, string? Reason = null, string? CallId = null, IReadOnlyList<ToolCallRef>? Ignored = null);

/// <summary>A tool call the model made, by its id and the tool's name.</summary>
public sealed record ToolCallRef(string CallId, string Name);

/// <summary>
/// The routing rules of one workflow, small enough to travel in the orchestration's input so the orchestrator
/// never reads the database. <paramref name="MaxTotalTokens"/> (the run's token budget) and <paramref name="MaxTurnChars"/>
/// (the cap on one turn's text) are fixed when the run is planned (<c>RunOptions.PlanFor</c>); null in plans
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
/// <param name="Stack">Origin stack of consults, bottom first (a list: Stack&lt;T&gt; reverses when serialized).</param>
/// <param name="Returns">Times work was returned to each agent.</param>
/// <param name="Chain">
/// The chain of control, bottom first: every agent that passed control on and has not had it back; the last entry
/// handed control to <paramref name="Agent"/>. <c>return_to_previous</c> goes back along it when the stack is empty.
/// </param>
public sealed record RouteState(string Agent, int Step, IReadOnlyList<string> Stack, IReadOnlyDictionary<string, int> Returns, IReadOnlyList<string>? Chain = null)
{
    /// <summary>The chain of control (empty for a state stored before the chain was kept).</summary>
    public IReadOnlyList<string> PreviousAgents => Chain ?? [];

    public static RouteState Start(string agent) => new(agent, 0, [], new Dictionary<string, int>(), []);
}
