namespace Qlaw.Core.RunStore;

/// <summary>The audit vocabulary (DESIGN §2.5); rows are written by <see cref="RunLogWrite.Audit"/>.</summary>
public static class AuditTypes
{
    public const string RunCreated = "run.created";
    public const string RunStarted = "run.started";
    public const string StepStarted = "step.started";
    public const string StepRetrying = "step.retrying";
    public const string StepCompleted = "step.completed";
    public const string StepFailed = "step.failed";
    public const string StepSuperseded = "step.superseded";
    public const string Handoff = "handoff";
    public const string HandoffRequested = "handoff.requested";
    public const string Return = "return";
    public const string RouteRejected = "route.rejected";
    public const string RouteIgnored = "route.ignored";
    public const string ModelWaiting = "model.waiting";
    public const string InputRequested = "input.requested";
    public const string ToolCalled = "tool.called";
    public const string ToolCompleted = "tool.completed";
    public const string ToolApproved = "tool.approved";
    public const string ToolDenied = "tool.denied";
    public const string RunResumed = "run.resumed";
    public const string InputAnswered = "input.answered";
    public const string RunCompleted = "run.completed";
    public const string RunFailed = "run.failed";
    public const string RunCancelled = "run.cancelled";
    public const string RunDeadLettered = "run.dead_lettered";
    public const string RunAbandoned = "run.abandoned";
    public const string RunRecovered = "run.recovered";
    public const string RunForked = "run.forked";
    public const string RunForkedFrom = "run.forked_from";
}
