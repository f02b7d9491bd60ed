using System.Text.Json.Nodes;

namespace Qlaw.FakeModel;

/// <summary>
/// How the fake answers when no reply is queued: like a real model, the first token after <see cref="FirstTokenMs"/>,
/// then <see cref="Tokens"/> text chunks <see cref="TokenMs"/> apart, then one tool call chosen from the request's
/// <c>tools</c> by a fixed rule (<see cref="ToolFor"/>). The defaults take about 2 s a turn.
/// </summary>
public sealed record FakeModelPace
{
    public int FirstTokenMs { get; init; } = 500;

    public int Tokens { get; init; } = 30;

    public int TokenMs { get; init; } = 50;

    /// <summary>
    /// The tool a paced reply calls: the first offered <c>handoff_to_…</c>, else <c>complete</c> if offered, else none
    /// (a plain text answer, as to a request without tools). So a chain of agents runs to its end and completes there.
    /// </summary>
    public static string? ToolFor(JsonNode body)
    {
        string? complete = null;
        foreach (var tool in body["tools"] as JsonArray ?? [])
        {
            var name = tool?["function"]?["name"]?.GetValue<string>();
            if (name is not null && name.StartsWith("handoff_to_", StringComparison.Ordinal))
            {
                return name;
            }

            complete ??= name == "complete" ? name : null;
        }

        return complete;
    }

    /// <summary>The reply without its tool call and usage, made once per pace: its chunks are shared by every request.</summary>
    internal FakeReply Template() => new()
    {
        Chunks = [.. Enumerable.Range(0, Tokens).Select(i => Words[i % Words.Length])],
        FirstChunkDelayMs = FirstTokenMs,
        ChunkDelayMs = TokenMs,
    };

    /// <summary>This request's reply; the prompt's tokens are counted roughly, as a quarter of its body's bytes.</summary>
    internal FakeReply ReplyTo(FakeReply template, JsonNode body, long bodyBytes) => template with
    {
        ToolCalls = ToolFor(body) is { } tool ? [new FakeToolCall(tool, """{"reason":"paced"}""")] : [],
        Usage = ((int)Math.Min(int.MaxValue, bodyBytes / 4), Tokens),
    };

    private static readonly string[] Words = ["The ", "model ", "writes ", "its ", "answer ", "one ", "token ", "at ", "a ", "time. "];
}
