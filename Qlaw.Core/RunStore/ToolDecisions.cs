using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Qlaw.Contracts;
using Qlaw.Contracts.Events;
using Qlaw.Contracts.Runs;

namespace Qlaw.Core.RunStore;

/// <summary>
/// A person's answer to the tool calls a paused run waits on (approval, or a call a crash cut off): <c>approve</c> of
/// <c>/continue</c>, else the answer's text — "yes" approves, anything else denies with the text as the reason (the
/// QLAW CLI's conversation).
/// </summary>
public static partial class ToolDecisions
{
    /// <summary>
    /// Stages the answer to the calls the run's paused <paramref name="step"/> waits on, and moves that step's calls to
    /// the next step, whose turn replays them with their answers; false when no call waits.
    /// </summary>
    public static async Task<bool> StageAsync(RunLogWrite write, int step, ContinueRunRequest request, CancellationToken cancellationToken)
    {
        var waiting = await write.Db.ToolCalls.AsNoTracking()
            .Where(c => c.RunId == write.RunId && c.StepIndex == step && (c.Status == ToolCallStatus.AwaitingApproval || c.Status == ToolCallStatus.Uncertain))
            .ToListAsync(cancellationToken);
        if (waiting.Count == 0)
        {
            return false;
        }

        var approve = request.Approve ?? (request.Input is { } said && Yes().IsMatch(said));
        var reason = request.Reason ?? (request.Approve is null ? request.Input : null);
        reason = reason?.Length > 2000 ? reason[..2000] : reason;
        write.Stage("UPDATE tool_calls SET status = $2, decision_reason = $3 WHERE id = ANY($1)",
            [waiting.Select(c => c.Id).ToArray(), QlawJson.EnumName(approve ? ToolCallStatus.Approved : ToolCallStatus.Denied), reason]);
        foreach (var call in waiting)
        {
            var detail = new ToolDecided(step, call.CallId, call.Tool, approve, reason);
            write.Audit(approve ? AuditTypes.ToolApproved : AuditTypes.ToolDenied, detail);
            write.Event(RunEvents.Trace(write.RunId, RunEvents.ToolDecision, call.Agent, detail, write.Now, step));
        }

        write.Stage("UPDATE tool_calls SET step_index = $2 WHERE run_id = $1 AND step_index = $3", [write.RunId, step + 1, step]);
        return true;
    }

    [GeneratedRegex(@"^\s*(yes|y|approve|approved|ok)\b", RegexOptions.IgnoreCase)]
    private static partial Regex Yes();
}
