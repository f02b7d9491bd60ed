namespace Qlaw.Contracts.Runs;

/// <summary>A run as listed under its workflow; a fork names the run and step it was forked from.</summary>
public sealed record RunSummary(
    Guid Id,
    Guid WorkflowId,
    RunStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? CompletedAt,
    int CurrentStep,
    string? CurrentAgent,
    string? LastError,
    Guid? ForkedFrom = null,
    int? FromStep = null);
