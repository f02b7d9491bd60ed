namespace Qlaw.Core.RunStore;

/// <summary>A row of a run's event log, as streamed.</summary>
public sealed record RunEventRow(long Id, string Type, string Data)
{
    /// <summary>Ends a stream whose reader fell too far behind (compared by reference): it resumes with Last-Event-ID.</summary>
    public static RunEventRow Lagged { get; } = new(-1, "lagging", "");
}
