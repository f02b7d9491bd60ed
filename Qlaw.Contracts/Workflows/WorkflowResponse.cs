namespace Qlaw.Contracts.Workflows;

/// <summary>A stored workflow: its id, unique name and definition as posted.</summary>
public sealed record WorkflowResponse(Guid Id, string Name, WorkflowDefinition Config, DateTimeOffset CreatedAt);
