using Microsoft.DurableTask;
using Moq;
using Qlaw.Core.Orchestration;
using Qlaw.Core.Routing;

namespace Qlaw.Core.Tests;

/// <summary>
/// The orchestrator against a mocked context whose turns route as the turn's activity does: it follows each outcome,
/// dead-letters and waits, and stops — and never ends a run itself.
/// </summary>
public sealed class RunOrchestratorTests
{
    private static readonly RoutingPlan Plan = new(
        new Dictionary<string, AgentEdges>
        {
            ["planner"] = new(["coder"], ["reviewer"], null),
            ["coder"] = new(["judge"], ["reviewer"], null),
            ["reviewer"] = new(["judge"], ["judge"], null),
            ["judge"] = new(["coder"], [], null),
        },
        "planner", 20, 3, new RetrySettings(3, 10, 2, 100));

    private readonly Mock<TaskOrchestrationContext> _context = new() { DefaultValue = DefaultValue.Mock };
    private readonly List<TurnRequest> _turns = [];
    private readonly List<object?> _finished = [];

    public RunOrchestratorTests()
    {
        _context.SetupGet(c => c.InstanceId).Returns("run-test");
        _context.Setup(c => c.CallActivityAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .Callback<TaskName, object?, TaskOptions?>((_, input, _) => _finished.Add(input))
            .Returns(Task.CompletedTask);
    }

    [Fact]
    public async Task It_follows_consults_three_deep_and_returns_until_a_turn_completes_the_run()
    {
        Decide(
            new(RouteAction.Consult, "reviewer"),
            new(RouteAction.Consult, "judge"),
            new(RouteAction.Handoff, "coder"),
            new(RouteAction.Consult, "reviewer"),
            new(RouteAction.ReturnToPrevious),
            new(RouteAction.ReturnToPrevious),
            new(RouteAction.ReturnToPrevious),
            new(RouteAction.Complete));

        var result = await RunAsync();

        Assert.Equal("completed", result);
        Assert.Equal(
            ["planner/0", "reviewer/1", "judge/2", "coder/2", "reviewer/3", "coder/2", "reviewer/1", "planner/0"],
            _turns.Select(t => $"{t.State.Agent}/{t.State.Stack.Count}"));
        Assert.Equal(Enumerable.Range(0, 8), _turns.Select(t => t.State.Step));

        // The last turn's activity ended the run in its own commit: nothing else is called.
        Assert.Empty(_finished);
    }

    [Fact]
    public async Task Exhausted_retries_dead_letter_the_run_and_the_same_turn_is_retried_after_continue()
    {
        var calls = 0;
        _context.Setup(c => c.CallActivityAsync<TurnResult>(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .Callback<TaskName, object?, TaskOptions?>((_, input, _) => _turns.Add((TurnRequest)input!))
            .Returns(() => ++calls == 1
                ? Task.FromException<TurnResult>(new TaskFailedException(RunOrchestrator.AgentTurn, 1, new TaskFailureDetails(typeof(TurnFailedException).FullName!, "model_unavailable: model timed out", null, null, null)))
                : Task.FromResult(new TurnResult(new RouteOutcome.Completed(RouteState.Start("planner") with { Step = 1 }))));
        _context.Setup(c => c.WaitForExternalEvent<ContinueSignal>(ContinueSignal.EventName, It.IsAny<CancellationToken>()))
            .ReturnsAsync(new ContinueSignal(null));

        var result = await RunAsync();

        Assert.Equal("completed", result);
        var deadLetter = Assert.IsType<DeadLetterRequest>(_finished[0]);
        Assert.Equal(new RunError("model_unavailable", "model timed out"), deadLetter.Error);
        Assert.False(deadLetter.Permanent);
        Assert.Equal([0, 0], _turns.Select(t => t.State.Step));
        _context.Verify(c => c.WaitForExternalEvent<ContinueSignal>(ContinueSignal.EventName, It.IsAny<CancellationToken>()), Times.Once);
    }

    [Fact]
    public async Task The_next_turn_is_the_one_the_turn_returned_an_API_handoff_included()
    {
        var handoff = RunRouter.RouteHandoff(Plan, RouteState.Start("planner"), "judge", withReturn: false, "operator", 9);
        var results = new Queue<TurnResult>([new(handoff), new(new RouteOutcome.Completed(RouteState.Start("judge") with { Step = 2 }))]);
        _context.Setup(c => c.CallActivityAsync<TurnResult>(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .Callback<TaskName, object?, TaskOptions?>((_, input, _) => _turns.Add((TurnRequest)input!))
            .Returns(() => Task.FromResult(results.Dequeue()));

        var result = await RunAsync();

        Assert.Equal("completed", result);
        Assert.Equal("judge", _turns[1].State.Agent);
        Assert.Equal(1, _turns[1].State.Step);
        Assert.Equal(9, _turns[1].Transition!.HandoffId);
    }

    [Fact]
    public async Task A_turn_that_pauses_the_run_is_followed_by_the_same_state_with_the_users_input()
    {
        Decide(new(RouteAction.RequestInput), new(RouteAction.Complete));
        _context.Setup(c => c.WaitForExternalEvent<ContinueSignal>(ContinueSignal.EventName, It.IsAny<CancellationToken>()))
            .ReturnsAsync(new ContinueSignal("use tabs", 4));

        await RunAsync();

        Assert.Equal([("planner", 0, null), ("planner", 1, "use tabs")], _turns.Select(t => (t.State.Agent, t.State.Step, t.Input)));
        Assert.Null(_turns[1].Transition);
    }

    [Fact]
    public async Task A_cancelled_run_stops_without_finishing_again()
    {
        _context.Setup(c => c.CallActivityAsync<TurnResult>(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .ReturnsAsync(TurnResult.Stop);

        var result = await RunAsync();

        Assert.Equal("stopped", result);
        Assert.Empty(_finished);
    }

    private void Decide(params RouteDecision[] decisions)
    {
        var queue = new Queue<RouteDecision>(decisions);
        _context.Setup(c => c.CallActivityAsync<TurnResult>(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .Callback<TaskName, object?, TaskOptions?>((_, input, _) => _turns.Add((TurnRequest)input!))
            .Returns((TaskName _, object? input, TaskOptions? _) => Task.FromResult(new TurnResult(RunRouter.Route(Plan, ((TurnRequest)input!).State, queue.Dequeue()))));
    }

    private Task<string> RunAsync() =>
        new RunOrchestrator().RunAsync(_context.Object, new RunOrchestrationInput(Guid.NewGuid(), Plan, RouteState.Start("planner"), null, null));
}
