using Microsoft.DurableTask;
using Moq;
using Qlaw.Core.Orchestration;
using Qlaw.Core.Routing;

namespace Qlaw.Core.Tests;

/// <summary>The orchestrator against a mocked context: it follows the router, dead-letters and waits, and stops.</summary>
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
    public async Task It_follows_consults_three_deep_and_returns_then_finishes_the_run()
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
        var finish = Assert.IsType<FinishRunRequest>(Assert.Single(_finished));
        Assert.True(finish.Succeeded);
    }

    [Fact]
    public async Task Exhausted_retries_dead_letter_the_run_and_the_same_turn_is_retried_after_continue()
    {
        var calls = 0;
        _context.Setup(c => c.CallActivityAsync<TurnResult>(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .Callback<TaskName, object?, TaskOptions?>((_, input, _) => _turns.Add((TurnRequest)input!))
            .Returns(() => ++calls == 1
                ? Task.FromException<TurnResult>(new TaskFailedException(RunOrchestrator.AgentTurn, 1, new TaskFailureDetails(typeof(TurnFailedException).FullName!, "model_unavailable: model timed out", null, null, null)))
                : Task.FromResult(new TurnResult(new RouteDecision(RouteAction.Complete), false, null, null)));
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
    public async Task A_manual_handoff_returned_by_the_turn_overrides_the_agents_own_routing()
    {
        var results = new Queue<TurnResult>(
        [
            new(new RouteDecision(RouteAction.Handoff, "coder"), false, null, new PendingHandoff(9, "judge", false, "operator")),
            new(new RouteDecision(RouteAction.Complete), false, null, null),
        ]);
        _context.Setup(c => c.CallActivityAsync<TurnResult>(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .Callback<TaskName, object?, TaskOptions?>((_, input, _) => _turns.Add((TurnRequest)input!))
            .Returns(() => Task.FromResult(results.Dequeue()));

        await RunAsync();

        Assert.Equal("judge", _turns[1].State.Agent);
        Assert.Equal(9, _turns[1].Transition!.HandoffId);
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
            .Returns(() => Task.FromResult(new TurnResult(queue.Dequeue(), false, null, null)));
    }

    private Task<string> RunAsync() =>
        new RunOrchestrator().RunAsync(_context.Object, new RunOrchestrationInput(Guid.NewGuid(), Plan, RouteState.Start("planner"), null, null));
}
