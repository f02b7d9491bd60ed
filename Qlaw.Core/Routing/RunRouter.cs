using System.Text.Json.Serialization;
using Qlaw.Contracts.Runs;

namespace Qlaw.Core.Routing;

/// <summary>A change of control between two turns, recorded as a handoff or return.</summary>
public sealed record Transition(string Kind, string From, string To, string? Reason, int StackDepth, long? HandoffId = null)
{
    public const string HandoffKind = "handoff";
    public const string ConsultKind = "consult";
    public const string ReturnKind = "return";
}

/// <summary>Where a run goes after a turn (it travels from the turn's activity to the orchestrator, tagged by kind).</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(Proceed), "proceed")]
[JsonDerivedType(typeof(AwaitInput), "await_input")]
[JsonDerivedType(typeof(Completed), "completed")]
[JsonDerivedType(typeof(Failed), "failed")]
public abstract record RouteOutcome
{
    private RouteOutcome()
    {
    }

    /// <summary>Another turn, by <see cref="RouteState.Agent"/>, after <paramref name="Transition"/> (null when the agent stays).</summary>
    public sealed record Proceed(RouteState State, Transition? Transition, string? Warning = null) : RouteOutcome;

    public sealed record AwaitInput(RouteState State) : RouteOutcome;

    public sealed record Completed(RouteState State, string? Warning = null) : RouteOutcome;

    /// <summary>The run fails: <paramref name="Code"/> is one of <c>RunErrorCodes</c>.</summary>
    public sealed record Failed(RouteState State, string Code, string Reason) : RouteOutcome;
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
        var allowed = plan.Agents[agent];
        var advanced = state with { Step = state.Step + 1 };
        switch (decision.Action)
        {
            case RouteAction.Complete:
                return new RouteOutcome.Completed(advanced);
            case RouteAction.RequestInput:
                return new RouteOutcome.AwaitInput(advanced);
            case RouteAction.Handoff when decision.Target is { } target && (allowed.Handoffs.Contains(target) || allowed.Consults.Contains(target)):
                return Limit(plan, HandOff(advanced, agent, target, decision.Reason));
            case RouteAction.Consult when decision.Target is { } target && allowed.Consults.Contains(target):
                return Limit(plan, Consult(advanced, agent, target, decision.Reason));
            case RouteAction.ReturnToPrevious when state.Stack.Count > 0 || state.PreviousAgents.Count > 0:
                return ReturnToPrevious(plan, advanced, decision.Reason);
        }

        string? warning = decision.Action switch
        {
            RouteAction.EndTurn => null,
            RouteAction.ReturnToPrevious => $"'{agent}' called return_to_previous but no agent is before it in the chain.",
            RouteAction.Invalid => $"'{agent}' called {decision.Target ?? "a tool"}, which it was not offered or whose arguments do not parse.",
            _ => $"'{agent}' may not route {decision.Action} to '{decision.Target}'.",
        };
        if (allowed.DefaultNext is { } next)
        {
            return Limit(plan, HandOff(advanced, agent, next, "default edge") with { Warning = warning });
        }

        // A turn with no routing call, or a return with nobody before it, completes the run; a call of a tool the
        // agent was not offered has no meaning to fall back on.
        return decision.Action is RouteAction.EndTurn or RouteAction.ReturnToPrevious
            ? new RouteOutcome.Completed(advanced, warning)
            : new RouteOutcome.Failed(advanced, RunErrorCodes.InvalidToolCall, $"{warning} It has no default edge to follow.");
    }

    /// <summary>
    /// Routes after the turn of <c>state.Agent</c> when a handoff requested through the API waits at its boundary: the
    /// handoff overrides the agent's own routing.
    /// </summary>
    public static RouteOutcome RouteHandoff(RoutingPlan plan, RouteState state, string to, bool withReturn, string? reason, long handoffId) =>
        Limit(plan, ApplyManualHandoff(state with { Step = state.Step + 1 }, state.Agent, to, withReturn, reason, handoffId));

    /// <summary>Applies a handoff requested through the API at a turn boundary, overriding the agent's own routing.</summary>
    public static RouteOutcome.Proceed ApplyManualHandoff(RouteState next, string from, string to, bool withReturn, string? reason, long handoffId)
    {
        var proceed = withReturn ? Consult(next, from, to, reason) : HandOff(next, from, to, reason);
        return proceed with { Transition = proceed.Transition! with { HandoffId = handoffId } };
    }

    // Control moves; the origin stack is unchanged and the chain grows by the agent that handed on.
    private static RouteOutcome.Proceed HandOff(RouteState next, string from, string to, string? reason) =>
        new(next with { Agent = to, Chain = [.. next.PreviousAgents, from] }, new Transition(Transition.HandoffKind, from, to, reason, next.Stack.Count));

    // Control moves and comes back: the caller is pushed on the origin stack (and is the next agent's previous).
    private static RouteOutcome.Proceed Consult(RouteState next, string from, string to, string? reason) =>
        new(
            next with { Agent = to, Stack = [.. next.Stack, from], Chain = [.. next.PreviousAgents, from] },
            new Transition(Transition.ConsultKind, from, to, reason, next.Stack.Count + 1));

    // Back to the previous agent in the chain: the origin on top of the stack when there is one (the chain goes back to
    // where it was when that origin consulted), else the agent that handed control to this one. Counted per agent.
    private static RouteOutcome ReturnToPrevious(RoutingPlan plan, RouteState next, string? reason)
    {
        var (stack, chain) = (next.Stack, next.PreviousAgents);
        string origin;
        if (stack.Count > 0)
        {
            origin = stack[^1];
            stack = [.. stack.Take(stack.Count - 1)];
            var at = LastIndexOf(chain, origin);
            chain = at < 0 ? chain : [.. chain.Take(at)];
        }
        else
        {
            origin = chain[^1];
            chain = [.. chain.Take(chain.Count - 1)];
        }

        var returns = new Dictionary<string, int>(next.Returns) { [origin] = next.Returns.GetValueOrDefault(origin) + 1 };
        if (returns[origin] > plan.MaxReturns)
        {
            return new RouteOutcome.Failed(next, RunErrorCodes.MaxReturns, $"Work was returned to '{origin}' more than max_returns ({plan.MaxReturns}) times.");
        }

        return Limit(plan, new RouteOutcome.Proceed(
            next with { Agent = origin, Stack = stack, Returns = returns, Chain = chain },
            new Transition(Transition.ReturnKind, next.Agent, origin, reason, stack.Count)));
    }

    private static int LastIndexOf(IReadOnlyList<string> list, string value)
    {
        for (var i = list.Count - 1; i >= 0; i--)
        {
            if (list[i] == value)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Fails the run when the next turn would exceed max_steps.</summary>
    public static RouteOutcome Limit(RoutingPlan plan, RouteOutcome.Proceed next) =>
        next.State.Step >= plan.MaxSteps
            ? new RouteOutcome.Failed(next.State, RunErrorCodes.MaxSteps, $"The run reached max_steps ({plan.MaxSteps}) without completing.")
            : next;
}
