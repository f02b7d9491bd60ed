using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Qlaw.FakeModel;

/// <summary>
/// An OpenAI-compatible <c>/v1/chat/completions</c> on 127.0.0.1 (a free port) that answers each request with the
/// next queued <see cref="FakeReply"/>; when none is queued, with a paced completion (<see cref="UsePace"/>) or a 500.
/// A quota (<see cref="UseQuota"/>) or a throttle storm (<see cref="ThrottleEvery"/>) answer 429 first. Counters say
/// what happened; all of it is thread-safe.
/// </summary>
public sealed class FakeOpenAIServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<FakeReply> _replies = new();
    private (FakeModelPace Pace, FakeReply Template)? _pace;
    private RequestQuota? _quota;
    private (int Every, int RetryAfterSeconds)? _storm;
    private int _counted;
    private int _inFlight;
    private int _peakInFlight;
    private int _finished;
    private int _aborted;
    private int _cut;
    private int _throttled;

    private FakeOpenAIServer(WebApplication app) => _app = app;

    /// <summary>Base URL to give a workflow or a client (<c>http://127.0.0.1:port/v1</c>).</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Every request received, in order.</summary>
    public ConcurrentQueue<FakeRequest> Requests { get; } = new();

    public int InFlight => Volatile.Read(ref _inFlight);

    public int PeakInFlight => Volatile.Read(ref _peakInFlight);

    /// <summary>Counts <see cref="PeakInFlight"/> afresh from the calls in flight now (a bench's next wave).</summary>
    public void ResetPeakInFlight() => Interlocked.Exchange(ref _peakInFlight, InFlight);

    /// <summary>Streams sent to the end (<c>data: [DONE]</c>).</summary>
    public int Finished => Volatile.Read(ref _finished);

    /// <summary>Streams whose client went away before the reply ended (a cancelled model call).</summary>
    public int Aborted => Volatile.Read(ref _aborted);

    /// <summary>Streams the fake cut short on purpose (<see cref="FakeReply.CutAfterChunks"/>).</summary>
    public int Cut => Volatile.Read(ref _cut);

    /// <summary>429s sent, queued, by the quota or by the storm.</summary>
    public int Throttled => Volatile.Read(ref _throttled);

    public static async Task<FakeOpenAIServer> StartAsync(FakeModelPace? pace = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var server = new FakeOpenAIServer(builder.Build());
        server.UsePace(pace);
        server._app.MapPost("/v1/chat/completions", server.HandleAsync);
        await server._app.StartAsync();

        // Port 0: Kestrel picked a free port, and its address says which.
        server.BaseUrl = new Uri(new Uri(server._app.Urls.First()), "/v1");
        return server;
    }

    /// <summary>
    /// Queues a streamed reply: the text in chunks (<paramref name="chunkDelayMs"/> before each, to stream slowly), then
    /// a call of <paramref name="tool"/> if given, with <paramref name="toolArguments"/> as they are (malformed JSON
    /// included); with <paramref name="usage"/> the last chunk reports (prompt, completion) tokens.
    /// </summary>
    public void ReplyWith(string[] chunks, string? tool = null, string? toolArguments = "{}", int chunkDelayMs = 0, (int Prompt, int Completion)? usage = null) =>
        Enqueue(new FakeReply
        {
            Chunks = chunks,
            ToolCalls = tool is null ? [] : [new FakeToolCall(tool, toolArguments)],
            ChunkDelayMs = chunkDelayMs,
            Usage = usage,
        });

    /// <summary>Queues an HTTP error reply.</summary>
    public void FailWith(int status) => Enqueue(FakeReply.Error(status));

    public void Enqueue(FakeReply reply) => _replies.Enqueue(reply);

    /// <summary>Answers requests that find no queued reply at this pace (null: with a 500, as a fake with nothing to say).</summary>
    public void UsePace(FakeModelPace? pace) => _pace = pace is null ? null : (pace, pace.Template());

    /// <summary>At most <paramref name="requests"/> requests per <paramref name="window"/>; the rest get 429 until the window ends.</summary>
    public void UseQuota(int requests, TimeSpan window) => _quota = new RequestQuota(requests, window);

    /// <summary>Every <paramref name="every"/>-th request gets 429 with <c>retry-after</c> (0 turns it off).</summary>
    public void ThrottleEvery(int every, int retryAfterSeconds) => _storm = every > 0 ? (every, retryAfterSeconds) : null;

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var arrivedAt = Stopwatch.GetTimestamp();
        var inFlight = Interlocked.Increment(ref _inFlight);
        for (var peak = PeakInFlight; inFlight > peak; peak = PeakInFlight)
        {
            Interlocked.CompareExchange(ref _peakInFlight, inFlight, peak);
        }

        // Streams also end when the fake stops, so that disposing it never waits on a stall.
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _app.Lifetime.ApplicationStopping);
        try
        {
            var body = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: ended.Token) ?? new JsonObject();
            var reply = Choose(context, body);
            Requests.Enqueue(new FakeRequest(context.Request.Headers.Authorization.ToString(), body, arrivedAt, reply.Status, context.Request.Headers["api-key"].ToString()));
            foreach (var (name, value) in reply.Headers)
            {
                context.Response.Headers[name] = value;
            }

            if (reply.Status != StatusCodes.Status200OK)
            {
                await ErrorAsync(context, reply.Status);
                return;
            }

            var end = await CompletionStream.WriteAsync(context, reply, body["model"]?.GetValue<string>() ?? "fake", ended.Token);
            if (end == StreamEnd.Finished)
            {
                Interlocked.Increment(ref _finished);
            }
            else if (end == StreamEnd.Cut)
            {
                Interlocked.Increment(ref _cut);
            }
            else if (!_app.Lifetime.ApplicationStopping.IsCancellationRequested)
            {
                Interlocked.Increment(ref _aborted);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    // The quota first (its headers go on every answer), then the storm, the queue, the pace.
    private FakeReply Choose(HttpContext context, JsonNode body)
    {
        if (_quota?.Take() is { } quota)
        {
            foreach (var (name, value) in quota.Headers())
            {
                context.Response.Headers[name] = value;
            }

            if (!quota.Allowed)
            {
                return FakeReply.Throttled(quota.Reset);
            }
        }

        if (_storm is { } storm && Interlocked.Increment(ref _counted) % storm.Every == 0)
        {
            return FakeReply.Throttled(storm.RetryAfterSeconds);
        }

        if (_replies.TryDequeue(out var reply))
        {
            return reply;
        }

        return _pace is { } paced ? paced.Pace.ReplyTo(paced.Template, body, context.Request.ContentLength ?? 0) : FakeReply.Error(StatusCodes.Status500InternalServerError);
    }

    // OpenAI's error body: {"error": {"message", "type", "code"}}.
    private async Task ErrorAsync(HttpContext context, int status)
    {
        if (status == StatusCodes.Status429TooManyRequests)
        {
            Interlocked.Increment(ref _throttled);
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(context.Response.BodyWriter);
        json.WriteStartObject();
        json.WriteStartObject("error");
        json.WriteString("message", status == StatusCodes.Status429TooManyRequests ? "Rate limit reached for requests (fake)." : $"fake error {status}");
        json.WriteString("type", status == StatusCodes.Status429TooManyRequests ? "requests" : "fake");
        json.WriteString("code", status == StatusCodes.Status429TooManyRequests ? "rate_limit_exceeded" : status.ToString(System.Globalization.CultureInfo.InvariantCulture));
        json.WriteEndObject();
        json.WriteEndObject();
        await json.FlushAsync();
    }
}
