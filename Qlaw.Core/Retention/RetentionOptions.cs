using System.ComponentModel.DataAnnotations;

namespace Qlaw.Core.Retention;

/// <summary>How long ended runs are kept (section <c>Retention</c>), applied live.</summary>
public sealed class RetentionOptions
{
    /// <summary>
    /// Ended runs (completed, cancelled, failed for good) older than this many days are deleted with everything they
    /// wrote, and their Durable Task history purged. 0 (the default): kept forever.
    /// </summary>
    [Range(0, 36_500)]
    public int Days { get; set; }

    /// <summary>Runs deleted per transaction.</summary>
    [Range(1, 10_000)]
    public int BatchSize { get; set; } = 200;

    /// <summary>Most batches per pass, so one pass stays short however much has aged out.</summary>
    [Range(1, 10_000)]
    public int MaxBatchesPerPass { get; set; } = 50;

    /// <summary>How often Qlaw.Server looks for runs to delete (Qlaw.Functions: hourly timer).</summary>
    [Range(1, 86_400)]
    public int IntervalSeconds { get; set; } = 3600;
}
