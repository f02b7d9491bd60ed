using System.Text.Json;
using Qlaw.Contracts;
using Qlaw.Core.Agents;
using Qlaw.Core.Routing;
using Qlaw.Data.Runs;

namespace Qlaw.Core.Turns;

/// <summary>A run's conversation as the next agent sees it: the task, then each completed turn (and the input it got).</summary>
public static class RunConversation
{
    /// <summary>The conversation before step <paramref name="beforeStep"/>, from the run's task and its step rows (any order, any status).</summary>
    public static List<ConversationEntry> Before(string task, IEnumerable<StepEntity> steps, int beforeStep)
    {
        var history = new List<ConversationEntry> { new("user", null, task) };
        foreach (var step in steps.Where(s => s.Index < beforeStep && s.Status == StepStatus.Completed).OrderBy(s => s.Index))
        {
            if (step.Index > 0 && step.Input is { } input)
            {
                history.Add(new("user", null, input));
            }

            var decision = step.Decision is { } json ? JsonSerializer.Deserialize<RouteDecision>(json, QlawJson.Options) : null;
            history.Add(new("assistant", step.Agent, step.Output ?? "", decision));
        }

        return history;
    }
}
