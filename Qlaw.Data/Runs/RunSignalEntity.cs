namespace Qlaw.Data.Runs;

/// <summary>
/// Outbox row: an instruction to the Durable Task hub (schedule, continue, terminate) committed in the same transaction
/// as the run change it belongs to, and marked once delivered, so a crash between the two cannot lose it.
/// </summary>
public sealed class RunSignalEntity
{
    public long Id { get; set; }

    public Guid RunId { get; set; }

    /// <summary><c>schedule</c>, <c>continue</c> or <c>terminate</c>.</summary>
    public required string Kind { get; set; }

    /// <summary>What the delivery needs (<c>jsonb</c>).</summary>
    public required string Payload { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? DispatchedAt { get; set; }

    public int Attempts { get; set; }

    public string? LastError { get; set; }
}
