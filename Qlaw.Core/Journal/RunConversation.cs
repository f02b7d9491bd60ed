using Microsoft.EntityFrameworkCore;
using Qlaw.Core.Agents;
using Qlaw.Data;
using Qlaw.Data.Runs;

namespace Qlaw.Core.Journal;

/// <summary>A run's conversation as the next agent sees it: the task, then each completed turn (and the input it got).</summary>
public static class RunConversation
{
    /// <summary>The conversation before step <paramref name="beforeStep"/>.</summary>
    public static async Task<List<ConversationEntry>> BeforeAsync(QlawDbContext db, RunEntity run, int beforeStep, CancellationToken cancellationToken)
    {
        var steps = await db.Steps.AsNoTracking()
            .Where(s => s.RunId == run.Id && s.Index < beforeStep && s.Status == Contracts.StepStatus.Completed)
            .OrderBy(s => s.Index)
            .Select(s => new { s.Index, s.Agent, s.Input, s.Output })
            .ToListAsync(cancellationToken);
        var history = new List<ConversationEntry> { new("user", null, run.Input) };
        foreach (var step in steps)
        {
            if (step.Index > 0 && step.Input is { } input)
            {
                history.Add(new("user", null, input));
            }

            history.Add(new("assistant", step.Agent, step.Output ?? ""));
        }

        return history;
    }
}
