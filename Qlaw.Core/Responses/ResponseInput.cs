using System.Text.Json;

namespace Qlaw.Core.Responses;

/// <summary>The user's text of a <c>/v1/responses</c> input: a string, or OpenAI-style input items.</summary>
public static class ResponseInput
{
    /// <summary>The text, or null when there is none.</summary>
    public static string? Text(JsonElement input)
    {
        var text = input.ValueKind switch
        {
            JsonValueKind.String => input.GetString(),
            JsonValueKind.Array => string.Join("\n\n", input.EnumerateArray().Select(ItemText).Where(t => !string.IsNullOrEmpty(t))),
            JsonValueKind.Object => ItemText(input),
            _ => null,
        };
        return string.IsNullOrWhiteSpace(text) ? null : text;

        static string? ItemText(JsonElement item) => item.ValueKind switch
        {
            JsonValueKind.String => item.GetString(),
            JsonValueKind.Object when item.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String => t.GetString(),
            JsonValueKind.Object when item.TryGetProperty("content", out var c) => c.ValueKind == JsonValueKind.String
                ? c.GetString()
                : c.ValueKind == JsonValueKind.Array ? string.Concat(c.EnumerateArray().Select(ItemText)) : null,
            _ => null,
        };
    }
}
