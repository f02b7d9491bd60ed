namespace Qlaw.Data.Workflows;

/// <summary>Row of <c>workflows</c>: a named workflow definition.</summary>
public sealed class WorkflowEntity
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    /// <summary>The workflow definition as JSON (<c>jsonb</c>).</summary>
    public required string Config { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>
    /// When <c>DELETE /v1/workflows/{id}</c> removed a workflow that still has runs: they stay readable, the name is free
    /// again, and retention deletes the row once its last run is gone. Null while the workflow exists.
    /// </summary>
    public DateTimeOffset? DeletedAt { get; set; }
}
