using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Qlaw.Testing;

/// <summary>
/// An OpenAI-compatible chat completions endpoint on 127.0.0.1 that answers each request with the next scripted
/// reply: a streamed completion (text chunks, then an optional tool call) or an HTTP error.
/// </summary>
public sealed class FakeOpenAIServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Reply> _replies = new();
    private int _aborted;
    private int _finished;

    private FakeOpenAIServer(WebApplication app, Uri baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    /// <summary>Base URL to give a workflow (<c>…/v1</c>).</summary>
    public Uri BaseUrl { get; }

    /// <summary>Every request received: its Authorization header and JSON body.</summary>
    public ConcurrentQueue<(string? Authorization, JsonNode Body)> Requests { get; } = new();

    public static async Task<FakeOpenAIServer> StartAsync()
    {
        var (app, address) = LoopbackServer.Create();
        var server = new FakeOpenAIServer(app, new Uri(address, "/v1"));
        app.MapPost("/v1/chat/completions", server.HandleAsync);
        await app.StartAsync();
        return server;
    }

    /// <summary>Requests whose client went away before the reply ended (a cancelled model call).</summary>
    public int Aborted => _aborted;

    /// <summary>Requests whose reply was sent to the end.</summary>
    public int Finished => _finished;

    /// <summary>
    /// Queues a streamed reply: the text in chunks (<paramref name="chunkDelayMs"/> apart, to stream slowly), then a call
    /// of <paramref name="tool"/> if given, with <paramref name="toolArguments"/> as they are (malformed JSON included).
    /// </summary>
    /// <remarks>With <paramref name="usage"/> the last chunk reports (prompt, completion) tokens, as OpenAI does with <c>include_usage</c>.</remarks>
    public void ReplyWith(string[] chunks, string? tool = null, string? toolArguments = "{}", int chunkDelayMs = 0, (int Prompt, int Completion)? usage = null) =>
        _replies.Enqueue(new(200, chunks, tool, toolArguments, chunkDelayMs, usage));

    /// <summary>Queues an HTTP error reply.</summary>
    public void FailWith(int status) => _replies.Enqueue(new(status, [], null, null, 0, null));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var body = await JsonNode.ParseAsync(context.Request.Body);
        Requests.Enqueue((context.Request.Headers.Authorization.ToString(), body!));
        if (!_replies.TryDequeue(out var reply))
        {
            reply = new(500, [], null, null, 0, null);
        }

        if (reply.Status != 200)
        {
            context.Response.StatusCode = reply.Status;
            await context.Response.WriteAsJsonAsync(new { error = new { message = $"fake error {reply.Status}", type = "fake", code = reply.Status.ToString() } });
            return;
        }

        context.Response.ContentType = "text/event-stream";
        var model = body!["model"]?.GetValue<string>() ?? "fake";
        try
        {
            foreach (var chunk in reply.Chunks)
            {
                if (reply.ChunkDelayMs > 0)
                {
                    await Task.Delay(reply.ChunkDelayMs, context.RequestAborted);
                }

                await WriteChunkAsync(context, model, new JsonObject { ["content"] = chunk }, null);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            Interlocked.Increment(ref _aborted);
            return;
        }

        if (reply.Tool is { } tool)
        {
            var call = new JsonObject
            {
                ["index"] = 0,
                ["id"] = "call_fake_1",
                ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = tool, ["arguments"] = reply.ToolArguments },
            };
            await WriteChunkAsync(context, model, new JsonObject { ["tool_calls"] = new JsonArray(call) }, null);
        }

        await WriteChunkAsync(context, model, new JsonObject(), reply.Tool is null ? "stop" : "tool_calls", reply.Usage);
        await context.Response.WriteAsync("data: [DONE]\n\n");
        Interlocked.Increment(ref _finished);
    }

    private static async Task WriteChunkAsync(HttpContext context, string model, JsonObject delta, string? finishReason, (int Prompt, int Completion)? usage = null)
    {
        var chunk = new JsonObject
        {
            ["id"] = "chatcmpl-fake",
            ["object"] = "chat.completion.chunk",
            ["created"] = 1_700_000_000,
            ["model"] = model,
            ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finishReason }),
        };
        if (usage is { } used)
        {
            chunk["usage"] = new JsonObject { ["prompt_tokens"] = used.Prompt, ["completion_tokens"] = used.Completion, ["total_tokens"] = used.Prompt + used.Completion };
        }

        await context.Response.WriteAsync($"data: {chunk.ToJsonString()}\n\n");
        await context.Response.Body.FlushAsync();
    }

    private sealed record Reply(int Status, string[] Chunks, string? Tool, string? ToolArguments, int ChunkDelayMs, (int Prompt, int Completion)? Usage);
}
