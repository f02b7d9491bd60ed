namespace Qlaw.Data.Runs;

/// <summary>Row of <c>run_events</c>: the per-run log behind every stream; <see cref="Id"/> is the SSE event id.</summary>
public sealed class RunEventEntity
{
    public long Id { get; set; }

    public Guid RunId { get; set; }

    /// <summary>Stream event name, e.g. <c>response.output_text.delta</c>.</summary>
    public required string Type { get; set; }

    /// <summary>The event payload as JSON (<c>jsonb</c>).</summary>
    public required string Data { get; set; }

    /// <summary>Step and attempt that wrote the event, so a reader can tell events of a superseded attempt.</summary>
    public int? StepIndex { get; set; }

    public int? Attempt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}
