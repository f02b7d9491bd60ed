using System.ComponentModel.DataAnnotations;

namespace Qlaw.Core.Configuration;

/// <summary>Options of the event stream (section <c>Streaming</c>).</summary>
public sealed class StreamingOptions
{
    /// <summary>
    /// Text deltas are batched this long before they are written (and streamed); 0 writes each one. A turn's first
    /// delta is always written at once, so that a reader sees the agent start without waiting a window. The attempt's
    /// own rows wait at most this long for that first delta, to commit with it (<c>PendingAttempt</c>).
    /// </summary>
    [Range(0, 1000)]
    public int DeltaWindowMs { get; set; } = 15;

    /// <summary>An idle stream sends a comment this often so that proxies and clients keep it open.</summary>
    [Range(1, 300)]
    public int HeartbeatSeconds { get; set; } = 15;
}
