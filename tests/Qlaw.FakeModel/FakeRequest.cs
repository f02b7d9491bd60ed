using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Qlaw.FakeModel;

/// <summary>
/// A request the fake received: its Authorization header and JSON body, when it arrived (a <see cref="Stopwatch"/>
/// timestamp, so that a test can measure the wait between a 429 and its retry), the status it was answered with and
/// its <c>api-key</c> header (Azure OpenAI's way of sending the key).
/// </summary>
public sealed record FakeRequest(string? Authorization, JsonNode Body, long ArrivedAt, int Status, string? ApiKey = null)
{
    /// <summary>Tests read a request as (authorization, body).</summary>
    public void Deconstruct(out string? authorization, out JsonNode body) => (authorization, body) = (Authorization, Body);

    /// <summary>The time from this request's arrival to <paramref name="later"/>'s.</summary>
    public TimeSpan Until(FakeRequest later) => Stopwatch.GetElapsedTime(ArrivedAt, later.ArrivedAt);
}
