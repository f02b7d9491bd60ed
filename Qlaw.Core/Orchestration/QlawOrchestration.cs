namespace Qlaw.Core.Orchestration;

/// <summary>The orchestrator and activities every host registers, by name.</summary>
public static class QlawOrchestration
{
    public static IReadOnlyList<(string Name, Type Type)> Orchestrators { get; } =
    [
        (RunOrchestrator.Name, typeof(RunOrchestrator)),
    ];

    public static IReadOnlyList<(string Name, Type Type)> Activities { get; } =
    [
        (AgentTurnActivity.Name, typeof(AgentTurnActivity)),
        (DeadLetterActivity.Name, typeof(DeadLetterActivity)),
        (FinishRunActivity.Name, typeof(FinishRunActivity)),
    ];
}
