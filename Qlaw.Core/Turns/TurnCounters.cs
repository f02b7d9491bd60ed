using Qlaw.Core.RunStore;
using Qlaw.Core.Telemetry;

namespace Qlaw.Core.Turns;

/// <summary>The run log's counters, added after a write commits.</summary>
internal static class TurnCounters
{
    public static void Step(string agent, string outcome) =>
        QlawTelemetry.Steps.Add(1, new(QlawTelemetry.AgentTag, agent), new(QlawTelemetry.OutcomeTag, outcome));

    public static void Finished(FinishRunRequest request)
    {
        if (request.Succeeded)
        {
            QlawTelemetry.RunsCompleted.Add(1);
        }
        else
        {
            Failed(deadLettered: false);
        }
    }

    public static void DeadLettered() => Failed(deadLettered: true);

    private static void Failed(bool deadLettered) =>
        QlawTelemetry.RunsFailed.Add(1, new KeyValuePair<string, object?>(QlawTelemetry.DeadLetteredTag, deadLettered));
}
