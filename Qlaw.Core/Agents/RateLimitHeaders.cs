using System.ClientModel.Primitives;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Qlaw.Core.Agents;

/// <summary>
/// Reads what a provider says of its quota on every answer and holds the endpoint's calls back accordingly
/// (<see cref="EndpointGate.Hold"/>): OpenAI's and Azure OpenAI's <c>x-ratelimit-remaining-requests</c> /
/// <c>-tokens</c> with their <c>x-ratelimit-reset-*</c> (<c>1s</c>, <c>6m0s</c>, <c>120ms</c>). When no request is
/// left, or under 2 % of the token limit, no new call goes until the window resets — before the provider answers 429.
/// </summary>
public sealed partial class RateLimitHeaders(EndpointGate gate) : PipelinePolicy
{
    // A provider that says a quota ran out but not when it resets (Azure OpenAI sends no reset headers) is given this.
    private static readonly TimeSpan UnknownReset = TimeSpan.FromSeconds(1);

    public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        ProcessNext(message, pipeline, currentIndex);
        Observe(message.Response);
    }

    public override async ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        await ProcessNextAsync(message, pipeline, currentIndex);
        Observe(message.Response);
    }

    private void Observe(PipelineResponse? response)
    {
        if (response is null)
        {
            return;
        }

        var headers = response.Headers;
        if (Number(headers, "x-ratelimit-remaining-requests") is <= 0)
        {
            gate.Hold(Duration(headers, "x-ratelimit-reset-requests") ?? UnknownReset);
        }

        if (Number(headers, "x-ratelimit-remaining-tokens") is { } tokens
            && (tokens <= 0 || (Number(headers, "x-ratelimit-limit-tokens") is > 0 and var limit && tokens < limit / 50)))
        {
            gate.Hold(Duration(headers, "x-ratelimit-reset-tokens") ?? UnknownReset);
        }
    }

    /// <summary>
    /// The wait a 429 or 503 answer asks for: <c>retry-after-ms</c>, <c>x-ms-retry-after-ms</c>, or <c>retry-after</c>
    /// in seconds or as an HTTP date; null when it names none.
    /// </summary>
    public static TimeSpan? RetryAfter(PipelineResponse? response, DateTimeOffset now)
    {
        if (response is null)
        {
            return null;
        }

        foreach (var name in (string[])["retry-after-ms", "x-ms-retry-after-ms"])
        {
            if (Number(response.Headers, name) is >= 0 and var ms)
            {
                return TimeSpan.FromMilliseconds(ms);
            }
        }

        if (!response.Headers.TryGetValue("retry-after", out var value) || value is null)
        {
            return null;
        }

        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0)
        {
            return TimeSpan.FromSeconds(seconds);
        }

        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? (at > now ? at - now : TimeSpan.Zero)
            : null;
    }

    /// <summary>A duration in OpenAI's format (<c>1s</c>, <c>6m0s</c>, <c>1.5s</c>, <c>120ms</c>, <c>2h3m4s</c>), or plain seconds.</summary>
    public static TimeSpan? ParseDuration(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var plain))
        {
            return plain >= 0 ? TimeSpan.FromSeconds(plain) : null;
        }

        var parts = DurationPart().Matches(value);
        if (parts.Count == 0 || parts.Sum(p => p.Length) != value.Trim().Length)
        {
            return null;
        }

        var total = TimeSpan.Zero;
        foreach (Match part in parts)
        {
            var amount = double.Parse(part.Groups[1].Value, CultureInfo.InvariantCulture);
            total += part.Groups[2].Value switch
            {
                "h" => TimeSpan.FromHours(amount),
                "m" => TimeSpan.FromMinutes(amount),
                "ms" => TimeSpan.FromMilliseconds(amount),
                _ => TimeSpan.FromSeconds(amount),
            };
        }

        return total;
    }

    private static TimeSpan? Duration(PipelineResponseHeaders headers, string name) =>
        headers.TryGetValue(name, out var value) ? ParseDuration(value) : null;

    private static double? Number(PipelineResponseHeaders headers, string name) =>
        headers.TryGetValue(name, out var value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) ? number : null;

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|h|m|s)")]
    private static partial Regex DurationPart();
}
