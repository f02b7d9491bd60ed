using Qlaw.Core.Orchestration;
using Qlaw.Core.Turns;

namespace Qlaw.Core;

/// <summary>The orchestrator and activities every host registers, by name.</summary>
public static class QlawOrchestration
{
    public static IReadOnlyList<(string Name, Type Type)> Orchestrators { get; } =
    [
        (RunOrchestrator.Name, typeof(RunOrchestrator)),
    ];

    public static IReadOnlyList<(string Name, Type Type)> Activities { get; } =
    [
        (RunOrchestrator.AgentTurn, typeof(AgentTurnActivity)),
        (RunOrchestrator.DeadLetter, typeof(DeadLetterActivity)),
    ];
}
