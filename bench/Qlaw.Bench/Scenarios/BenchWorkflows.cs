using System.Text;
using System.Text.Json.Nodes;

namespace Qlaw.Bench.Scenarios;

/// <summary>
/// Workflows made for streaming load: two scripted agents hand the run back and forth, each turn saying
/// <c>words</c> words (one token each), until the run is cancelled or reaches its step limit.
/// </summary>
internal static class BenchWorkflows
{
    public static string StreamName(int words) => $"bench-stream-{words}";

    public static JsonObject Stream(int words)
    {
        var text = new StringBuilder();
        for (var i = 0; i < words; i++)
        {
            text.Append(Words[i % Words.Length]).Append(' ');
        }

        JsonObject Agent(string name, string role, string next) => new()
        {
            ["name"] = name,
            ["role"] = role,
            ["handoffs"] = new JsonArray(next),
            ["script"] = new JsonArray(new JsonObject { ["say"] = text.ToString(), ["call"] = $"handoff_to_{next}" }),
        };

        return new JsonObject
        {
            ["name"] = StreamName(words),
            ["description"] = "Benchmark load: two agents stream text to each other until cancelled.",
            ["start_agent"] = "writer",
            ["agents"] = new JsonArray(Agent("writer", "coder", "editor"), Agent("editor", "reviewer", "writer")),
            ["limits"] = new JsonObject { ["max_steps"] = 1000 },
            ["model"] = new JsonObject { ["provider"] = "scripted" },
        };
    }

    private static readonly string[] Words = ["the", "agent", "streams", "its", "answer", "token", "by", "token", "to", "every", "client"];
}
