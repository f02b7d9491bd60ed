using Qlaw.Contracts.Events;

namespace Qlaw.Core.RunStore;

/// <summary>
/// A routing call the router could not follow (a tool that was not offered, arguments that do not parse, a return
/// with nobody before): an audit row and a <c>WorkflowWarningEvent</c> trace naming it.
/// </summary>
public static class RouteWarnings
{
    public static void Record(RunLogWrite write, int step, string? agent, string warning)
    {
        var detail = new RouteRejected(step, agent, warning);
        write.Audit(AuditTypes.RouteRejected, detail);
        write.Event(RunEvents.Trace(write.RunId, RunEvents.WorkflowWarning, agent, detail, write.Now, step));
    }
}
