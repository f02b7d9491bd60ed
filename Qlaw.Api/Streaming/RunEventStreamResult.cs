using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using Qlaw.Core.Responses;
using Qlaw.Core.RunStore;

namespace Qlaw.Api.Streaming;

/// <summary>
/// Writes a run's events as Server-Sent Events in the QLAW CLI's format: <c>id:</c>, <c>event:</c> and one
/// single-line <c>data:</c> JSON per event, flushed at once; <c>: keep-alive</c> comments while idle;
/// <c>data: [DONE]</c> and the end of the response when the stream ends; a reader that fell too far behind gets
/// <c>: lagging, reconnect with Last-Event-ID</c> and the end of the response instead. Releases the client's stream
/// slot at the end.
/// </summary>
public sealed class RunEventStreamResult(IAsyncEnumerable<byte[]?> frames, IDisposable? slot = null) : IResult
{
    private static readonly byte[] Heartbeat = Encoding.UTF8.GetBytes(": keep-alive\n\n");
    private static readonly byte[] Done = Encoding.UTF8.GetBytes("data: [DONE]\n\n");
    private static readonly byte[] Lagging = Encoding.UTF8.GetBytes(": lagging, reconnect with Last-Event-ID\n\n");

    // A live row is one object handed to every local follower of its run: it is encoded once, not once per client.
    private static readonly ConditionalWeakTable<RunEventRow, byte[]> Frames = [];

    /// <summary>The log's rows as they are (<c>GET /v1/runs/{id}/responses</c>).</summary>
    public static RunEventStreamResult OfRows(IAsyncEnumerable<RunEventRow?> rows, IDisposable? slot) => new(EncodeAsync(rows), slot);

    /// <summary>A <c>/v1/responses</c> stream: the rows framed by <see cref="ResponseFraming"/>.</summary>
    public static RunEventStreamResult OfResponse(IAsyncEnumerable<ResponseFrame?> responseFrames, IDisposable? slot) => new(EncodeAsync(responseFrames), slot);

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        var body = response.BodyWriter;
        var cancellationToken = httpContext.RequestAborted;

        // The frames stop with the request, or when a flush fails while the next frame is awaited.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pending = frames.GetAsyncEnumerator(stop.Token);
        try
        {
            await response.StartAsync(cancellationToken);
            while (true)
            {
                // Frames that are ready at once (the rows of one commit, a reader catching up) go out in one send: the
                // response is flushed only when the next frame has to be waited for.
                var next = pending.MoveNextAsync();
                var more = next.IsCompleted ? next.Result : await FlushWhileWaitingAsync(body, next.AsTask(), stop, cancellationToken);
                if (!more)
                {
                    break;
                }

                var frame = pending.Current;
                if (ReferenceEquals(frame, Lagging))
                {
                    // A reader too far behind is dropped without [DONE]: it reconnects with Last-Event-ID.
                    await body.WriteAsync(Lagging, cancellationToken);
                    return;
                }

                body.Write(frame ?? Heartbeat);
            }

            await body.WriteAsync(Done, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away; it resumes with Last-Event-ID.
        }
        finally
        {
            await pending.DisposeAsync();
            slot?.Dispose();
        }
    }

    // Sends what was written while the next frame is awaited; if the send fails, the frames are stopped and their
    // pending step is settled before the failure goes on (an async iterator cannot be disposed while it runs).
    private static async Task<bool> FlushWhileWaitingAsync(PipeWriter body, Task<bool> next, CancellationTokenSource stop, CancellationToken cancellationToken)
    {
        try
        {
            await body.FlushAsync(cancellationToken);
        }
        catch
        {
            await stop.CancelAsync();
            try
            {
                await next;
            }
            catch (OperationCanceledException)
            {
                // The frames stopped, as asked.
            }

            throw;
        }

        return await next;
    }

    private static async IAsyncEnumerable<byte[]?> EncodeAsync(IAsyncEnumerable<RunEventRow?> rows)
    {
        await foreach (var row in rows)
        {
            yield return row is null ? null : ReferenceEquals(row, RunEventRow.Lagged) ? Lagging : Frames.GetValue(row, r => Encode(r.Id, r.Type, r.Data));
        }
    }

    private static async IAsyncEnumerable<byte[]?> EncodeAsync(IAsyncEnumerable<ResponseFrame?> frames)
    {
        await foreach (var frame in frames)
        {
            yield return frame is null ? null : ReferenceEquals(frame, ResponseFrame.Lagged) ? Lagging : Encode(frame.Id, frame.Event, frame.Data);
        }
    }

    // The log stores single-line JSON (jsonb text), and added events are serialized on one line: one data: line each.
    private static byte[] Encode(long? id, string type, string data) =>
        Encoding.UTF8.GetBytes(id is null ? $"event: {type}\ndata: {data}\n\n" : $"id: {id}\nevent: {type}\ndata: {data}\n\n");
}
