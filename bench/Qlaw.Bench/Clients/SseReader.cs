using System.Buffers.Text;
using System.Net.Http.Headers;
using Qlaw.Bench.Measure;

namespace Qlaw.Bench.Clients;

/// <summary>What kind of event a frame carried, as far as the scenarios care.</summary>
internal enum SseKind : byte
{
    Other,
    Delta,
    End,
}

/// <summary>One event as a client received it: its <c>id:</c>, its kind, and when its bytes arrived (<see cref="BenchClock"/>).</summary>
internal readonly record struct SseFrame(long Id, SseKind Kind, long ReceivedAt);

/// <summary>One client's stream: when it was asked for, when its headers came, every event, how it ended.</summary>
internal sealed class SseReading
{
    public long RequestedAt { get; init; }

    public long HeadersAt { get; set; }

    public long EndedAt { get; set; }

    public bool SawDone { get; set; }

    public string? Failure { get; set; }

    public List<SseFrame> Frames { get; } = [];

    public long? FirstDeltaAt => Frames.FirstOrDefault(f => f.Kind == SseKind.Delta) is { Kind: SseKind.Delta } f ? f.ReceivedAt : null;
}

/// <summary>
/// A raw <c>text/event-stream</c> client: HttpClient and a byte-level line scanner (no per-event strings), so that a
/// few thousand of them fit beside the server on the same two cores. Reads until the server ends the stream or the
/// token is cancelled.
/// </summary>
internal static class SseReader
{
    private static readonly byte[] IdField = "id: "u8.ToArray();
    private static readonly byte[] EventField = "event: "u8.ToArray();
    private static readonly byte[] DeltaType = "response.output_text.delta"u8.ToArray();
    private static readonly byte[] CompletedType = "response.completed"u8.ToArray();
    private static readonly byte[] ErrorType = "response.error"u8.ToArray();
    private static readonly byte[] DoneData = "data: [DONE]"u8.ToArray();

    /// <summary>
    /// Streams <paramref name="path"/>, from after <paramref name="lastEventId"/> when given (the <c>Last-Event-ID</c>
    /// header of a reconnecting client); <paramref name="connected"/> runs once the response headers are in.
    /// </summary>
    public static async Task<SseReading> ReadAsync(HttpClient http, string path, CancellationToken cancellationToken, Action? connected = null, long? lastEventId = null)
    {
        var reading = new SseReading { RequestedAt = BenchClock.Now };
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            if (lastEventId is { } after)
            {
                request.Headers.Add("Last-Event-ID", after.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            reading.HeadersAt = BenchClock.Now;
            if (!response.IsSuccessStatusCode)
            {
                reading.Failure = $"HTTP {(int)response.StatusCode}";
                return reading;
            }

            connected?.Invoke();
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            await ScanAsync(body, reading, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped by the scenario.
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            reading.Failure = ex.Message;
        }

        reading.EndedAt = BenchClock.Now;
        return reading;
    }

    private static async Task ScanAsync(Stream body, SseReading reading, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        var (filled, id, kind) = (0, -1L, SseKind.Other);
        while (true)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }

            var read = await body.ReadAsync(buffer.AsMemory(filled), cancellationToken);
            if (read == 0)
            {
                return;
            }

            var receivedAt = BenchClock.Now;
            filled += read;
            var start = 0;
            int newline;
            while ((newline = Array.IndexOf(buffer, (byte)'\n', start, filled - start)) >= 0)
            {
                var line = buffer.AsSpan(start, newline - start);
                start = newline + 1;
                if (line.IsEmpty)
                {
                    if (id >= 0)
                    {
                        reading.Frames.Add(new SseFrame(id, kind, receivedAt));
                    }

                    (id, kind) = (-1, SseKind.Other);
                }
                else if (line.StartsWith(IdField) && Utf8Parser.TryParse(line[IdField.Length..], out long value, out _))
                {
                    id = value;
                }
                else if (line.StartsWith(EventField))
                {
                    var name = line[EventField.Length..];
                    kind = name.SequenceEqual(DeltaType) ? SseKind.Delta
                        : name.SequenceEqual(CompletedType) || name.SequenceEqual(ErrorType) ? SseKind.End
                        : SseKind.Other;
                }
                else if (line.SequenceEqual(DoneData))
                {
                    reading.SawDone = true;
                }
            }

            // Keep the unfinished line at the front of the buffer.
            filled -= start;
            Buffer.BlockCopy(buffer, start, buffer, 0, filled);
        }
    }
}
