namespace Qlaw.Data.Workflows;

/// <summary>Row of <c>workflows</c>: a named workflow definition.</summary>
public sealed class WorkflowEntity
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    /// <summary>The workflow definition as JSON (<c>jsonb</c>).</summary>
    public required string Config { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}
