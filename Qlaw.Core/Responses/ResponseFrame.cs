using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;

namespace Qlaw.Core.Responses;

/// <summary>One event of a <c>/v1/responses</c> stream: the last of the events a row of the run's log becomes has its id; others have none.</summary>
public sealed record ResponseFrame(long? Id, string Event, string Data)
{
    /// <summary>Ends a stream whose reader fell too far behind (compared by reference): it resumes with Last-Event-ID.</summary>
    public static ResponseFrame Lagged { get; } = new(null, "lagging", "");

    /// <summary>The events of <paramref name="frames"/> after the one numbered <paramref name="startingAfter"/> (OpenAI's resume point).</summary>
    public static async IAsyncEnumerable<ResponseFrame?> After(IAsyncEnumerable<ResponseFrame?> frames, int startingAfter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var frame in frames.WithCancellation(cancellationToken))
        {
            if (frame is null || ReferenceEquals(frame, ResponseFrame.Lagged) || SequenceOf(frame) > startingAfter)
            {
                yield return frame;
            }
        }
    }

    private static int SequenceOf(ResponseFrame frame) =>
        JsonNode.Parse(frame.Data)?["sequence_number"]?.GetValue<int>() ?? int.MaxValue;
}

/// <summary>
/// What a <c>/v1/responses</c> stream is about: the run (its response), the model asked for, the workflow; whether it
/// is a retried call's (a reused Idempotency-Key), which alone resumes after a <c>Last-Event-ID</c>.
/// </summary>
public sealed record ResponseTarget(Guid RunId, long After, string Workflow, DateTimeOffset CreatedAt, bool Background = false, bool Retried = false);
