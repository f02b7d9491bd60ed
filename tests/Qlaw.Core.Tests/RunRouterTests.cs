using Qlaw.Contracts.Runs;
using Qlaw.Core.Routing;

namespace Qlaw.Core.Tests;

public sealed class RunRouterTests
{
    private static readonly RoutingPlan Plan = new(
        new Dictionary<string, AgentEdges>
        {
            ["planner"] = new(["coder"], ["reviewer"], "coder"),
            ["coder"] = new(["judge"], ["reviewer"], null),
            ["reviewer"] = new(["judge"], ["judge"], null),
            ["judge"] = new(["coder"], [], null),
        },
        "planner",
        MaxSteps: 10,
        MaxReturns: 2,
        new RetrySettings(3, 100, 2, 1000));

    private static RouteState At(string agent, int step = 0, params string[] stack) => new(agent, step, stack, new Dictionary<string, int>());

    [Fact]
    public void A_straight_handoff_moves_control_and_leaves_the_stack_alone()
    {
        var outcome = RunRouter.Route(Plan, At("planner", 0, "judge"), new(RouteAction.Handoff, "coder"));

        var next = Assert.IsType<RouteOutcome.Proceed>(outcome);
        Assert.Equal("coder", next.State.Agent);
        Assert.Equal(1, next.State.Step);
        Assert.Equal(["judge"], next.State.Stack);
        Assert.Equal(new Transition(Transition.HandoffKind, "planner", "coder", null, 1), next.Transition);
    }

    [Fact]
    public void Consults_push_origins_three_deep_and_returns_pop_them_in_reverse_order()
    {
        var state = At("planner");
        var visited = new List<string>();
        foreach (var decision in new RouteDecision[]
        {
            new(RouteAction.Consult, "reviewer"),       // planner → reviewer, stack [planner]
            new(RouteAction.Consult, "judge"),          // reviewer → judge, stack [planner, reviewer]
            new(RouteAction.Handoff, "coder"),          // judge → coder, stack unchanged
            new(RouteAction.Consult, "reviewer"),       // coder → reviewer, stack [planner, reviewer, coder]
            new(RouteAction.ReturnToPrevious),          // → coder
            new(RouteAction.ReturnToPrevious),          // → reviewer
            new(RouteAction.ReturnToPrevious),          // → planner
        })
        {
            var next = Assert.IsType<RouteOutcome.Proceed>(RunRouter.Route(Plan, state, decision));
            state = next.State;
            visited.Add($"{state.Agent}:{state.Stack.Count}");
        }

        Assert.Equal(["reviewer:1", "judge:2", "coder:2", "reviewer:3", "coder:2", "reviewer:1", "planner:0"], visited);
        Assert.Equal(1, state.Returns["planner"]);
    }

    [Fact]
    public void A_judge_reached_by_straight_handoffs_sends_work_back_to_the_agent_that_handed_it_over()
    {
        var state = At("planner");
        var visited = new List<string>();
        foreach (var decision in new RouteDecision[]
        {
            new(RouteAction.Handoff, "coder"),          // planner → coder
            new(RouteAction.Consult, "reviewer"),       // coder → reviewer, stack [coder]
            new(RouteAction.ReturnToPrevious),          // → coder (stack popped)
            new(RouteAction.Handoff, "judge"),          // coder → judge, stack empty
            new(RouteAction.ReturnToPrevious),          // → coder: the judge rejects
            new(RouteAction.Handoff, "judge"),          // coder → judge again
        })
        {
            var next = Assert.IsType<RouteOutcome.Proceed>(RunRouter.Route(Plan, state, decision));
            Assert.Null(next.Warning);
            state = next.State;
            visited.Add($"{next.Transition!.Kind}:{state.Agent}:{string.Join('/', state.PreviousAgents)}");
        }

        Assert.Equal(
            ["handoff:coder:planner", "consult:reviewer:planner/coder", "return:coder:planner", "handoff:judge:planner/coder", "return:coder:planner", "handoff:judge:planner/coder"],
            visited);
        Assert.Equal(2, state.Returns["coder"]);
    }

    [Fact]
    public void Returns_along_the_chain_walk_back_to_the_first_agent_and_count_against_max_returns()
    {
        var state = At("planner");
        state = Assert.IsType<RouteOutcome.Proceed>(RunRouter.Route(Plan, state, new(RouteAction.Handoff, "coder"))).State;
        state = Assert.IsType<RouteOutcome.Proceed>(RunRouter.Route(Plan, state, new(RouteAction.Handoff, "judge"))).State;

        var toCoder = Assert.IsType<RouteOutcome.Proceed>(RunRouter.Route(Plan, state, new(RouteAction.ReturnToPrevious)));
        var toPlanner = Assert.IsType<RouteOutcome.Proceed>(RunRouter.Route(Plan, toCoder.State, new(RouteAction.ReturnToPrevious)));

        Assert.Equal(("coder", "planner"), (toCoder.State.Agent, toPlanner.State.Agent));
        Assert.Equal(Transition.ReturnKind, toPlanner.Transition!.Kind);
        Assert.Empty(toPlanner.State.PreviousAgents);

        var judge = At("judge") with { Chain = ["coder"], Returns = new Dictionary<string, int> { ["coder"] = Plan.MaxReturns } };
        var failed = Assert.IsType<RouteOutcome.Failed>(RunRouter.Route(Plan, judge, new(RouteAction.ReturnToPrevious)));
        Assert.Equal(RunErrorCodes.MaxReturns, failed.Code);
    }

    [Fact]
    public void Only_an_agent_with_nobody_before_it_gets_a_warning_for_return_and_follows_the_default_edge()
    {
        var outcome = RunRouter.Route(Plan, At("planner"), new(RouteAction.ReturnToPrevious));

        var next = Assert.IsType<RouteOutcome.Proceed>(outcome);
        Assert.Equal("coder", next.State.Agent);
        Assert.Contains("no agent is before it", next.Warning, StringComparison.Ordinal);
    }

    [Fact]
    public void Return_with_nobody_before_and_no_default_edge_completes_with_a_warning()
    {
        var outcome = RunRouter.Route(Plan, At("judge"), new(RouteAction.ReturnToPrevious));

        var completed = Assert.IsType<RouteOutcome.Completed>(outcome);
        Assert.NotNull(completed.Warning);
    }

    [Fact]
    public void A_handoff_to_an_agent_not_allowed_is_refused_and_the_default_edge_followed()
    {
        var outcome = RunRouter.Route(Plan, At("planner"), new(RouteAction.Handoff, "judge"));

        var next = Assert.IsType<RouteOutcome.Proceed>(outcome);
        Assert.Equal("coder", next.State.Agent);
        Assert.Contains("judge", next.Warning, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tool_the_agent_was_not_offered_follows_the_default_edge_else_fails_the_run_with_a_code()
    {
        var followed = Assert.IsType<RouteOutcome.Proceed>(RunRouter.Route(Plan, At("planner"), RouteCall.Parse("delete_everything")));
        Assert.Equal("coder", followed.State.Agent);
        Assert.Contains("delete_everything", followed.Warning, StringComparison.Ordinal);

        var failed = Assert.IsType<RouteOutcome.Failed>(RunRouter.Route(Plan, At("coder"), RouteCall.Parse("delete_everything")));
        Assert.Equal(RunErrorCodes.InvalidToolCall, failed.Code);
        Assert.Contains("delete_everything", failed.Reason, StringComparison.Ordinal);

        var refused = Assert.IsType<RouteOutcome.Failed>(RunRouter.Route(Plan, At("judge"), new(RouteAction.Handoff, "planner")));
        Assert.Equal(RunErrorCodes.InvalidToolCall, refused.Code);
    }

    [Fact]
    public void Ending_a_turn_without_a_routing_call_follows_the_default_edge_else_completes()
    {
        Assert.Equal("coder", Assert.IsType<RouteOutcome.Proceed>(RunRouter.Route(Plan, At("planner"), new(RouteAction.EndTurn))).State.Agent);
        Assert.IsType<RouteOutcome.Completed>(RunRouter.Route(Plan, At("coder"), new(RouteAction.EndTurn)));
    }

    [Fact]
    public void Complete_and_request_input_end_or_pause_the_run()
    {
        Assert.IsType<RouteOutcome.Completed>(RunRouter.Route(Plan, At("judge"), new(RouteAction.Complete)));
        var paused = Assert.IsType<RouteOutcome.AwaitInput>(RunRouter.Route(Plan, At("coder", 3), new(RouteAction.RequestInput)));
        Assert.Equal(("coder", 4), (paused.State.Agent, paused.State.Step));
    }

    [Fact]
    public void Reaching_max_steps_fails_the_run_with_the_reason()
    {
        var outcome = RunRouter.Route(Plan, At("planner", Plan.MaxSteps - 1), new(RouteAction.Handoff, "coder"));

        var failed = Assert.IsType<RouteOutcome.Failed>(outcome);
        Assert.Contains("max_steps (10)", failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Returning_work_to_an_agent_more_than_max_returns_times_fails_the_run()
    {
        var state = At("coder");
        for (var i = 0; i < Plan.MaxReturns; i++)
        {
            state = Assert.IsType<RouteOutcome.Proceed>(RunRouter.Route(Plan, state, new(RouteAction.Consult, "reviewer"))).State;
            state = Assert.IsType<RouteOutcome.Proceed>(RunRouter.Route(Plan, state, new(RouteAction.ReturnToPrevious))).State;
        }

        state = Assert.IsType<RouteOutcome.Proceed>(RunRouter.Route(Plan, state, new(RouteAction.Consult, "reviewer"))).State;
        var failed = Assert.IsType<RouteOutcome.Failed>(RunRouter.Route(Plan, state, new(RouteAction.ReturnToPrevious)));

        Assert.Contains("'coder' more than max_returns (2)", failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_manual_handoff_with_return_pushes_the_agent_that_just_finished()
    {
        var next = RunRouter.ApplyManualHandoff(At("coder", 3, "planner") with { Step = 4 }, "coder", "judge", withReturn: true, "operator", 7);

        Assert.Equal("judge", next.State.Agent);
        Assert.Equal(["planner", "coder"], next.State.Stack);
        Assert.Equal(7, next.Transition!.HandoffId);
        Assert.Equal(Transition.ConsultKind, next.Transition.Kind);
    }

    [Theory]
    [InlineData("handoff_to_coder", RouteAction.Handoff, "coder")]
    [InlineData("consult_reviewer", RouteAction.Consult, "reviewer")]
    [InlineData("return_to_previous", RouteAction.ReturnToPrevious, null)]
    [InlineData("request_input", RouteAction.RequestInput, null)]
    [InlineData("complete", RouteAction.Complete, null)]
    [InlineData(null, RouteAction.EndTurn, null)]
    [InlineData("dance", RouteAction.Invalid, "dance")]
    public void Routing_tool_names_map_to_decisions(string? call, RouteAction action, string? target)
    {
        Assert.Equal(new RouteDecision(action, target), RouteCall.Parse(call));
    }
}
