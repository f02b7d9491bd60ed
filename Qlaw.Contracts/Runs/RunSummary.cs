namespace Qlaw.Contracts.Runs;

/// <summary>A run as listed under its workflow.</summary>
public sealed record RunSummary(
    Guid Id,
    Guid WorkflowId,
    RunStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? CompletedAt,
    int CurrentStep,
    string? CurrentAgent,
    string? LastError);
