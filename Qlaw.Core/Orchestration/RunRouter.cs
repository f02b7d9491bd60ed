namespace Qlaw.Core.Orchestration;

/// <summary>A change of control between two turns, recorded as a handoff or return.</summary>
public sealed record Transition(string Kind, string From, string To, string? Reason, int StackDepth, long? HandoffId = null)
{
    public const string HandoffKind = "handoff";
    public const string ConsultKind = "consult";
    public const string ReturnKind = "return";
}

/// <summary>Where a run goes after a turn.</summary>
public abstract record RouteOutcome
{
    private RouteOutcome()
    {
    }

    /// <summary>Another turn, by <see cref="RouteState.Agent"/>, after <paramref name="Transition"/> (null when the agent stays).</summary>
    public sealed record Proceed(RouteState State, Transition? Transition, string? Warning = null) : RouteOutcome;

    public sealed record AwaitInput(RouteState State) : RouteOutcome;

    public sealed record Completed(RouteState State, string? Warning = null) : RouteOutcome;

    public sealed record Failed(RouteState State, string Reason) : RouteOutcome;
}

/// <summary>
/// The routing rules of DESIGN §2.4 as a pure function: given the plan, the state before a turn and the agent's
/// decision, where control goes next. No I/O, no clock: the orchestrator replays it.
/// </summary>
public static class RunRouter
{
    /// <summary>Routes after the turn of <c>state.Agent</c> at <c>state.Step</c>.</summary>
    public static RouteOutcome Route(RoutingPlan plan, RouteState state, RouteDecision decision)
    {
        var agent = state.Agent;
        var edges = plan.Agents[agent];
        var advanced = state with { Step = state.Step + 1 };
        switch (decision.Action)
        {
            case RouteAction.Complete:
                return new RouteOutcome.Completed(advanced);
            case RouteAction.RequestInput:
                return new RouteOutcome.AwaitInput(advanced);
            case RouteAction.Handoff when decision.Target is { } target && (edges.Handoffs.Contains(target) || edges.Consults.Contains(target)):
                return Limit(plan, new RouteOutcome.Proceed(
                    advanced with { Agent = target },
                    new Transition(Transition.HandoffKind, agent, target, decision.Reason, state.Stack.Count)));
            case RouteAction.Consult when decision.Target is { } target && edges.Consults.Contains(target):
                return Limit(plan, new RouteOutcome.Proceed(
                    advanced with { Agent = target, Stack = [.. state.Stack, agent] },
                    new Transition(Transition.ConsultKind, agent, target, decision.Reason, state.Stack.Count + 1)));
            case RouteAction.ReturnToPrevious when state.Stack.Count > 0:
                var origin = state.Stack[^1];
                var returns = new Dictionary<string, int>(state.Returns) { [origin] = state.Returns.GetValueOrDefault(origin) + 1 };
                if (returns[origin] > plan.MaxReturns)
                {
                    return new RouteOutcome.Failed(advanced, $"Work was returned to '{origin}' more than max_returns ({plan.MaxReturns}) times.");
                }

                return Limit(plan, new RouteOutcome.Proceed(
                    advanced with { Agent = origin, Stack = state.Stack.Take(state.Stack.Count - 1).ToList(), Returns = returns },
                    new Transition(Transition.ReturnKind, agent, origin, decision.Reason, state.Stack.Count - 1)));
        }

        // No routing call, or one the agent may not make: follow the default edge, else complete.
        var warning = decision.Action switch
        {
            RouteAction.EndTurn => null,
            RouteAction.ReturnToPrevious => $"'{agent}' called return_to_previous with an empty origin stack.",
            _ => $"'{agent}' may not route {decision.Action} to '{decision.Target}'.",
        };
        return edges.DefaultNext is { } next
            ? Limit(plan, new RouteOutcome.Proceed(advanced with { Agent = next }, new Transition(Transition.HandoffKind, agent, next, "default edge", state.Stack.Count), warning))
            : new RouteOutcome.Completed(advanced, warning);
    }

    /// <summary>Applies a handoff requested through the API at a turn boundary, overriding the agent's own routing.</summary>
    public static RouteOutcome.Proceed ApplyManualHandoff(RouteState next, string from, string to, bool withReturn, string? reason, long handoffId) =>
        withReturn
            ? new(next with { Agent = to, Stack = [.. next.Stack, from] }, new Transition(Transition.ConsultKind, from, to, reason, next.Stack.Count + 1, handoffId))
            : new(next with { Agent = to }, new Transition(Transition.HandoffKind, from, to, reason, next.Stack.Count, handoffId));

    /// <summary>Fails the run when the next turn would exceed max_steps.</summary>
    public static RouteOutcome Limit(RoutingPlan plan, RouteOutcome.Proceed next) =>
        next.State.Step >= plan.MaxSteps
            ? new RouteOutcome.Failed(next.State, $"The run reached max_steps ({plan.MaxSteps}) without completing.")
            : next;
}
