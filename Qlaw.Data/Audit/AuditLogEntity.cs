namespace Qlaw.Data.Audit;

/// <summary>Row of <c>audit_logs</c>: one transition of a run (run.created, step.completed, handoff, …).</summary>
public sealed class AuditLogEntity
{
    public long Id { get; set; }

    public Guid? RunId { get; set; }

    public required string Type { get; set; }

    /// <summary>Details as JSON (<c>jsonb</c>).</summary>
    public required string Detail { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}
