using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Qlaw.FakeModel;

/// <summary>
/// A request the fake received: its Authorization header and JSON body, when it arrived (a <see cref="Stopwatch"/>
/// timestamp, so that a test can measure the wait between a 429 and its retry) and the status it was answered with.
/// </summary>
public sealed record FakeRequest(string? Authorization, JsonNode Body, long ArrivedAt, int Status)
{
    /// <summary>Tests read a request as (authorization, body).</summary>
    public void Deconstruct(out string? authorization, out JsonNode body) => (authorization, body) = (Authorization, Body);

    /// <summary>The time from this request's arrival to <paramref name="later"/>'s.</summary>
    public TimeSpan Until(FakeRequest later) => Stopwatch.GetElapsedTime(ArrivedAt, later.ArrivedAt);
}
