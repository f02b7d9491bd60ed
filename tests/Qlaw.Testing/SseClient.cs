using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Qlaw.Testing;

/// <summary>One dispatched SSE event as the QLAW CLI sees it.</summary>
public sealed record SseEvent(long? Id, string? Event, JsonNode? Data);

/// <summary>What a stream delivered before it closed.</summary>
public sealed record SseTranscript(List<SseEvent> Events, bool SawDone, int Heartbeats, List<string> UnparsedData)
{
    /// <summary>The ids of the events that have one: the log's rows (events a /v1/responses stream adds have none).</summary>
    public long[] Ids => [.. Events.Where(e => e.Id is not null).Select(e => e.Id!.Value)];

    /// <summary>The last comment line (<c>: …</c>) the stream sent, without the colon.</summary>
    public string? LastComment { get; init; }

    /// <summary>
    /// The text the QLAW CLI would show, following its parser (src/sse.ts) rule by rule: named trace events go to the
    /// request-info formatter, named errors print, text deltas and any other payload with a string delta/text/content append.
    /// </summary>
    public string CliText
    {
        get
        {
            // The QLAW CLI's dispatch, branch by branch in its order (shared/qlaw-cli-contract.md §2.2).
            var text = new StringBuilder();
            foreach (var (_, name, data) in Events)
            {
                var type = data?["type"] is JsonValue t && t.TryGetValue<string>(out var typed) ? typed : null;
                if (name == "response.trace.complete" || type == "response.trace.complete")
                {
                    var info = data?["data"]?["data"]?["request_info"];
                    if (data?["data"]?["event_type"]?.GetValue<string>() == "RequestInfoEvent" && info?["request_id"] is not null)
                    {
                        text.Append("\n\n").Append(info["data"]?["prompt"]?.GetValue<string>());
                    }
                }
                else if (name == "response.error")
                {
                    text.Append("\n\n[Error] ").Append(data?["error"]?["message"]?.GetValue<string>() ?? data?["message"]?.GetValue<string>() ?? "Unknown error");
                }
                else if (name is "response.output_text.delta" or "message.delta" or "response.delta")
                {
                    text.Append(data?["delta"]?.GetValue<string>());
                }
                else if (name == "response.completed")
                {
                    // Nothing.
                }
                else if (type == "error")
                {
                    text.Append("\n\n[Error] ").Append(data?["message"]?.GetValue<string>() ?? "Unknown error");
                }
                else if (data is JsonObject other)
                {
                    foreach (var key in new[] { "delta", "text", "content" })
                    {
                        if (other[key] is JsonValue value && value.TryGetValue<string>(out var leaked) && leaked.Length > 0)
                        {
                            text.Append(leaked);
                            break;
                        }
                    }
                }
            }

            return text.ToString();
        }
    }
}

/// <summary>Reads Server-Sent Events by the QLAW CLI contract's framing rules (one JSON object per data: line).</summary>
public static class SseClient
{
    /// <summary>GETs a stream; <paramref name="until"/> ends the read (and the connection) after the first event it matches.</summary>
    public static Task<SseTranscript> GetAsync(HttpClient http, string url, string? lastEventId = null, int timeoutSeconds = 60, Func<SseEvent, bool>? until = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        return SendAsync(http, request, timeoutSeconds, until);
    }

    /// <summary>The request exactly as the QLAW CLI sends it (src/workflow.ts): JSON body, Accept: text/event-stream, Bun's User-Agent.</summary>
    public static HttpRequestMessage CliRequest(string body, string path = "/v1/responses", string userAgent = "Bun/1.4.5", string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd("text/event-stream");
        request.Headers.UserAgent.ParseAdd(userAgent);
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return request;
    }

    public static Task<SseTranscript> PostAsync(HttpClient http, string url, JsonNode body, int timeoutSeconds = 60)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        return SendAsync(http, request, timeoutSeconds);
    }

    /// <summary>
    /// Sends the request and reads the stream until the server closes it (bounded by the timeout) or an event matches
    /// <paramref name="until"/>.
    /// </summary>
    public static async Task<SseTranscript> SendAsync(HttpClient http, HttpRequestMessage request, int timeoutSeconds = 60, Func<SseEvent, bool>? until = null)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(timeout.Token)}");
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token), Encoding.UTF8);
        var events = new List<SseEvent>();
        var unparsed = new List<string>();
        var (done, heartbeats) = (false, 0);
        string? comment = null;
        string? name = null;
        long? id = null;
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Length == 0)
            {
                (name, id) = (null, null);
            }
            else if (line.StartsWith(':'))
            {
                heartbeats++;
                comment = line[1..].Trim();
            }
            else if (line.StartsWith("id:", StringComparison.Ordinal))
            {
                id = long.Parse(line[3..].Trim());
            }
            else if (line.StartsWith("event:", StringComparison.Ordinal))
            {
                name = line[6..].Trim();
            }
            else if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                var data = line[5..].Trim();
                if (data == "[DONE]")
                {
                    done = true;
                    continue;
                }

                try
                {
                    events.Add(new SseEvent(id, name, JsonNode.Parse(data)));
                }
                catch (JsonException)
                {
                    unparsed.Add(data);
                    continue;
                }

                if (until?.Invoke(events[^1]) == true)
                {
                    break;
                }
            }
        }

        return new SseTranscript(events, done, heartbeats, unparsed) { LastComment = comment };
    }

    /// <summary>
    /// Asserts the contract: each event named, its payload's type repeats the name, text only in deltas. A
    /// <c>/v1/responses</c> stream (<paramref name="framed"/>) names two kinds of event for the CLI and types them for
    /// the OpenAI SDKs: traces (typed <c>keepalive</c>), and <c>response.output_text.done</c> and
    /// <c>response.function_call_arguments.delta</c> (named <c>response.completed</c>).
    /// </summary>
    public static void AssertFollowsContract(SseTranscript stream, bool framed = false)
    {
        Assert.Empty(stream.UnparsedData);
        Assert.True(stream.SawDone, "the stream did not end with data: [DONE]");
        Assert.All(stream.Events, e =>
        {
            Assert.NotNull(e.Event);
            var type = e.Data?["type"]?.GetValue<string>();
            var dualLabelled = framed && (e.Event, type) is ("response.trace.complete", "keepalive")
                or ("response.completed", "response.output_text.done") or ("response.completed", "response.function_call_arguments.delta");
            if (!dualLabelled)
            {
                Assert.Equal(e.Event, type);
            }

            if (e.Event is not ("response.output_text.delta" or "response.completed"))
            {
                Assert.True(e.Data!["delta"] is null && e.Data["text"] is null && e.Data["content"] is null, e.Data.ToJsonString());
            }
        });
        var ids = stream.Ids;
        Assert.Equal(ids.Order(), ids);
        Assert.Equal(ids.Length, ids.Distinct().Count());
    }
}
