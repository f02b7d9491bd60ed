using System.Runtime.CompilerServices;
using System.Text;
using Qlaw.Core.Streaming;

namespace Qlaw.Api.Streaming;

/// <summary>
/// Writes a run's events as Server-Sent Events in the QLAW CLI's format: <c>id:</c>, <c>event:</c> and one
/// single-line <c>data:</c> JSON per event, flushed at once; <c>: keep-alive</c> comments while idle;
/// <c>data: [DONE]</c> and the end of the response when the stream ends; a reader that fell too far behind gets
/// <c>: lagging, reconnect with Last-Event-ID</c> and the end of the response instead. Releases the client's stream
/// slot at the end.
/// </summary>
public sealed class RunEventStreamResult(IAsyncEnumerable<RunEventRow?> events, IDisposable? slot = null) : IResult
{
    private static readonly byte[] Heartbeat = Encoding.UTF8.GetBytes(": keep-alive\n\n");
    private static readonly byte[] Done = Encoding.UTF8.GetBytes("data: [DONE]\n\n");
    private static readonly byte[] Lagging = Encoding.UTF8.GetBytes(": lagging, reconnect with Last-Event-ID\n\n");

    // A live row is one object handed to every local follower of its run: it is encoded once, not once per client.
    private static readonly ConditionalWeakTable<RunEventRow, byte[]> Frames = [];

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        var body = response.BodyWriter;
        var cancellationToken = httpContext.RequestAborted;
        try
        {
            await response.StartAsync(cancellationToken);
            await foreach (var row in events.WithCancellation(cancellationToken))
            {
                if (ReferenceEquals(row, RunEventRow.Lagged))
                {
                    await body.WriteAsync(Lagging, cancellationToken);
                    return;
                }

                await body.WriteAsync(row is null ? Heartbeat : Frames.GetValue(row, Encode), cancellationToken);
            }

            await body.WriteAsync(Done, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away; it resumes with Last-Event-ID.
        }
        finally
        {
            slot?.Dispose();
        }
    }

    // The log stores single-line JSON (jsonb text), so each payload is one data: line.
    private static byte[] Encode(RunEventRow row) => Encoding.UTF8.GetBytes($"id: {row.Id}\nevent: {row.Type}\ndata: {row.Data}\n\n");
}
