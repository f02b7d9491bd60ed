using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.Extensions.DependencyInjection;
using Qlaw.Core.Orchestration;
using Qlaw.Core.Turns;

namespace Qlaw.Functions.Orchestration;

/// <summary>
/// The Durable Functions triggers of a run: each one hands over to the shared orchestrator or activity of Qlaw.Core,
/// the same code Qlaw.Server's Durable Task worker runs. Function names are the names the orchestrator calls.
/// </summary>
public static class OrchestrationFunctions
{
    [Function(RunOrchestrator.Name)]
    public static Task<string> RunOrchestration([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new RunOrchestrator().RunAsync(context, context.GetInput<RunOrchestrationInput>()
            ?? throw new InvalidOperationException("The run orchestration was started without its input."));

    [Function(RunOrchestrator.AgentTurn)]
    public static Task<TurnResult> AgentTurn([ActivityTrigger] TurnRequest input, FunctionContext context) =>
        Activity<AgentTurnActivity>(context).RunAsync(new FunctionActivityContext(RunOrchestrator.AgentTurn, context), input);

    [Function(RunOrchestrator.DeadLetter)]
    public static Task<string> DeadLetter([ActivityTrigger] DeadLetterRequest input, FunctionContext context) =>
        Activity<DeadLetterActivity>(context).RunAsync(new FunctionActivityContext(RunOrchestrator.DeadLetter, context), input);

    private static T Activity<T>(FunctionContext context)
        where T : ITaskActivity => ActivatorUtilities.GetServiceOrCreateInstance<T>(context.InstanceServices);

    // The activity context Core's activities receive; the Functions runtime keeps the instance id in the binding data.
    private sealed class FunctionActivityContext(string name, FunctionContext context) : TaskActivityContext
    {
        public override TaskName Name { get; } = name;

        public override string InstanceId { get; } =
            context.BindingContext.BindingData.TryGetValue("instanceId", out var id) ? id?.ToString() ?? "" : "";
    }
}
