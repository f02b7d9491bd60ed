namespace Qlaw.Data.Runs;

/// <summary>Row of <c>handoffs</c>: a transfer of control, requested by an agent or by <c>POST /v1/runs/{id}/handoff</c>.</summary>
public sealed class HandoffEntity
{
    public long Id { get; set; }

    public Guid RunId { get; set; }

    public string? FromAgent { get; set; }

    public required string ToAgent { get; set; }

    public string? Reason { get; set; }

    /// <summary>True when the origin is pushed so that control returns to it later.</summary>
    public bool WithReturn { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When the orchestrator applied it; null while pending.</summary>
    public DateTimeOffset? ResolvedAt { get; set; }
}
