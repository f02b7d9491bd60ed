using System.Buffers.Text;
using System.Net.Http.Headers;
using System.Net.Sockets;
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

    public long? FirstEventAt => Frames.Count > 0 ? Frames[0].ReceivedAt : null;
}

/// <summary>
/// The event names that mean a text delta and the end of a run in one server's stream: Qlaw's Responses events, or the
/// LangGraph API's (<c>messages</c> from <c>stream_mode: ["messages-tuple"]</c>; it ends a stream by closing it, and
/// <c>error</c> on a failure).
/// </summary>
internal sealed record SseVocabulary(byte[] Delta, byte[][] End)
{
    public static SseVocabulary Responses { get; } = new("response.output_text.delta"u8.ToArray(), ["response.completed"u8.ToArray(), "response.error"u8.ToArray()]);

    public static SseVocabulary LangGraph { get; } = new("messages"u8.ToArray(), ["error"u8.ToArray()]);

    public SseKind KindOf(ReadOnlySpan<byte> name)
    {
        if (name.SequenceEqual(Delta))
        {
            return SseKind.Delta;
        }

        foreach (var end in End)
        {
            if (name.SequenceEqual(end))
            {
                return SseKind.End;
            }
        }

        return SseKind.Other;
    }
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
    private static readonly byte[] DoneData = "data: [DONE]"u8.ToArray();

    /// <summary>
    /// Streams <paramref name="path"/>, from after <paramref name="lastEventId"/> when given (the <c>Last-Event-ID</c>
    /// header of a reconnecting client); <paramref name="connected"/> runs once the response headers are in.
    /// </summary>
    public static async Task<SseReading> ReadAsync(HttpClient http, string path, CancellationToken cancellationToken, Action? connected = null, long? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        if (lastEventId is { } after)
        {
            request.Headers.Add("Last-Event-ID", after.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return await ReadAsync(http, request, SseVocabulary.Responses, cancellationToken, connected);
    }

    /// <summary>
    /// Whether <paramref name="ex"/> is the connection failing (the server killed or restarting): HttpClient's own
    /// errors, and a <see cref="SocketException"/> it lets through when the peer resets a connection it has just made.
    /// </summary>
    public static bool IsConnectionFailure(Exception ex) => ex is HttpRequestException or IOException or SocketException;

    /// <summary>Sends <paramref name="request"/> (a GET, or a POST that starts a run and streams it) and reads its stream.</summary>
    public static async Task<SseReading> ReadAsync(HttpClient http, HttpRequestMessage request, SseVocabulary vocabulary, CancellationToken cancellationToken, Action? connected = null)
    {
        var reading = new SseReading { RequestedAt = BenchClock.Now };
        try
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            reading.HeadersAt = BenchClock.Now;
            if (!response.IsSuccessStatusCode)
            {
                reading.Failure = $"HTTP {(int)response.StatusCode}";
                return reading;
            }

            connected?.Invoke();
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            await ScanAsync(body, reading, vocabulary, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped by the scenario.
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            reading.Failure = ex.Message;
        }

        reading.EndedAt = BenchClock.Now;
        return reading;
    }

    private static async Task ScanAsync(Stream body, SseReading reading, SseVocabulary vocabulary, CancellationToken cancellationToken)
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
                    kind = vocabulary.KindOf(line[EventField.Length..]);
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
