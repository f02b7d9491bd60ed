using System.Globalization;

namespace Qlaw.FakeModel;

/// <summary>A tool call of a reply; its arguments are sent as they are (malformed JSON included, or null).</summary>
public sealed record FakeToolCall(string Name, string? Arguments = "{}");

/// <summary>
/// One answer of the fake: a streamed completion in the shape a real model sends it, or an error status. Every shape
/// a real model produces is a combination of these: text chunks, tool calls (their arguments in one chunk or split),
/// a slow first token or a stall, a stream cut short, a usage report, a throttle with its headers.
/// </summary>
public sealed record FakeReply
{
    /// <summary>The text, one SSE chunk each.</summary>
    public IReadOnlyList<string> Chunks { get; init; } = [];

    public IReadOnlyList<FakeToolCall> ToolCalls { get; init; } = [];

    /// <summary>Each call's arguments in this many chunks after the one that names it (1: name and arguments in one chunk).</summary>
    public int ArgumentChunks { get; init; } = 1;

    /// <summary>Null: <c>tool_calls</c> when the reply calls a tool, else <c>stop</c>; e.g. <c>length</c> for a truncated answer.</summary>
    public string? FinishReason { get; init; }

    /// <summary>The wait before each text chunk.</summary>
    public int ChunkDelayMs { get; init; }

    /// <summary>The wait before the first chunk (time to first token); null: <see cref="ChunkDelayMs"/>; <see cref="Timeout.Infinite"/>: a stall.</summary>
    public int? FirstChunkDelayMs { get; init; }

    /// <summary>Drop the connection after this many text chunks (0: right after the headers), without finishing: a cut stream.</summary>
    public int? CutAfterChunks { get; init; }

    /// <summary>After the text chunks, a <c>data:</c> line that is not JSON, then the end of the stream: a provider's garbled answer.</summary>
    public bool Garbled { get; init; }

    /// <summary>(prompt, completion) tokens, reported in the last chunk as OpenAI does with <c>include_usage</c>.</summary>
    public (int Prompt, int Completion)? Usage { get; init; }

    /// <summary>200 streams the completion; anything else answers an OpenAI-style error body with this status.</summary>
    public int Status { get; init; } = 200;

    /// <summary>Response headers, e.g. <c>retry-after</c>, <c>x-ratelimit-remaining-requests</c>.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>A streamed text reply.</summary>
    public static FakeReply Text(params string[] chunks) => new() { Chunks = chunks };

    /// <summary>This reply with one more tool call.</summary>
    public FakeReply Calling(string tool, string? arguments = "{}") => this with { ToolCalls = [.. ToolCalls, new FakeToolCall(tool, arguments)] };

    /// <summary>An HTTP error.</summary>
    public static FakeReply Error(int status) => new() { Status = status };

    /// <summary>429 with <c>retry-after</c> (seconds) and <c>retry-after-ms</c>, as OpenAI throttles.</summary>
    public static FakeReply Throttled(int retryAfterSeconds) => Throttled(TimeSpan.FromSeconds(retryAfterSeconds));

    /// <summary>A model that accepts the request and never sends a token.</summary>
    public static FakeReply Stall() => new() { FirstChunkDelayMs = Timeout.Infinite };

    internal static FakeReply Throttled(TimeSpan retryAfter) => Error(429) with
    {
        Headers = new Dictionary<string, string>
        {
            ["retry-after"] = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture),
            ["retry-after-ms"] = ((long)Math.Ceiling(retryAfter.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture),
        },
    };
}
