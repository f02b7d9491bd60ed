using System.Buffers;
using System.IO.Pipelines;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Qlaw.FakeModel;

/// <summary>How a streamed reply ended.</summary>
internal enum StreamEnd
{
    Finished,
    Aborted,
    Cut,
}

/// <summary>
/// Writes one reply as OpenAI streams a chat completion: <c>chat.completion.chunk</c> objects as SSE <c>data:</c>
/// lines (the first delta carries <c>role: assistant</c>), the last with the finish reason and usage, then
/// <c>data: [DONE]</c>. Chunks are written straight into the response's pipe, so a thousand streams cost little.
/// </summary>
internal sealed class CompletionStream : IDisposable
{
    // Quotes inside strings as \" (OpenAI's own escaping), not \u0022.
    private static readonly JsonWriterOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly HttpContext _context;
    private readonly PipeWriter _pipe;
    private readonly Utf8JsonWriter _json;
    private readonly string _model;
    private bool _roleSent;

    private CompletionStream(HttpContext context, string model)
    {
        (_context, _pipe, _model) = (context, context.Response.BodyWriter, model);
        _json = new Utf8JsonWriter(_pipe, Relaxed);
    }

    public void Dispose() => _json.Dispose();

    public static async Task<StreamEnd> WriteAsync(HttpContext context, FakeReply reply, string model, CancellationToken cancellationToken)
    {
        context.Response.ContentType = "text/event-stream";
        using var stream = new CompletionStream(context, model);
        try
        {
            // Headers leave at once, as a real model's do; its first token may be long in coming.
            await stream.FlushAsync(cancellationToken);
            return await stream.RepliesAsync(reply, cancellationToken) ? StreamEnd.Finished : StreamEnd.Cut;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            return StreamEnd.Aborted;
        }
    }

    // False when the stream was cut short on purpose.
    private async Task<bool> RepliesAsync(FakeReply reply, CancellationToken cancellationToken)
    {
        var first = reply.FirstChunkDelayMs ?? reply.ChunkDelayMs;
        for (var i = 0; i < reply.Chunks.Count; i++)
        {
            if (i == reply.CutAfterChunks)
            {
                return Cut();
            }

            await DelayAsync(i == 0 ? first : reply.ChunkDelayMs, cancellationToken);
            Begin();
            _json.WriteString("content", reply.Chunks[i]);
            await EndAsync(null, null, cancellationToken);
        }

        if (reply.CutAfterChunks is { } cut && cut >= reply.Chunks.Count)
        {
            return Cut();
        }

        if (reply.Garbled)
        {
            _pipe.Write("data: {\"choices\":[{\"delta\":{\"content\":garbled\n\ndata: [DONE]\n\n"u8);
            await FlushAsync(cancellationToken);
            return true;
        }

        if (reply.Chunks.Count == 0)
        {
            await DelayAsync(first, cancellationToken);
        }

        for (var i = 0; i < reply.ToolCalls.Count; i++)
        {
            await ToolCallAsync(i, reply.ToolCalls[i], reply.ArgumentChunks, cancellationToken);
        }

        Begin();
        await EndAsync(reply.FinishReason ?? (reply.ToolCalls.Count > 0 ? "tool_calls" : "stop"), reply.Usage, cancellationToken);
        _pipe.Write("data: [DONE]\n\n"u8);
        await FlushAsync(cancellationToken);
        return true;
    }

    // The first chunk names the call; its arguments follow whole, or in parts as models stream them.
    private async Task ToolCallAsync(int index, FakeToolCall call, int argumentChunks, CancellationToken cancellationToken)
    {
        var arguments = call.Arguments;
        var split = argumentChunks > 1 && arguments is { Length: > 0 };
        Begin();
        _json.WriteStartArray("tool_calls");
        _json.WriteStartObject();
        _json.WriteNumber("index", index);
        _json.WriteString("id", $"call_fake_{index + 1}");
        _json.WriteString("type", "function");
        _json.WriteStartObject("function");
        _json.WriteString("name", call.Name);
        _json.WriteString("arguments", split ? "" : arguments);
        _json.WriteEndObject();
        _json.WriteEndObject();
        _json.WriteEndArray();
        await EndAsync(null, null, cancellationToken);
        if (!split)
        {
            return;
        }

        var size = (int)Math.Ceiling(arguments!.Length / (double)Math.Min(argumentChunks, arguments.Length));
        for (var at = 0; at < arguments.Length; at += size)
        {
            Begin();
            _json.WriteStartArray("tool_calls");
            _json.WriteStartObject();
            _json.WriteNumber("index", index);
            _json.WriteStartObject("function");
            _json.WriteString("arguments", arguments.AsSpan(at, Math.Min(size, arguments.Length - at)));
            _json.WriteEndObject();
            _json.WriteEndObject();
            _json.WriteEndArray();
            await EndAsync(null, null, cancellationToken);
        }
    }

    // Opens a chunk up to the inside of its delta.
    private void Begin()
    {
        _pipe.Write("data: "u8);
        _json.Reset();
        _json.WriteStartObject();
        _json.WriteString("id", "chatcmpl-fake");
        _json.WriteString("object", "chat.completion.chunk");
        _json.WriteNumber("created", 1_700_000_000);
        _json.WriteString("model", _model);
        _json.WriteStartArray("choices");
        _json.WriteStartObject();
        _json.WriteNumber("index", 0);
        _json.WriteStartObject("delta");
        if (!_roleSent)
        {
            _json.WriteString("role", "assistant");
            _roleSent = true;
        }
    }

    private async Task EndAsync(string? finishReason, (int Prompt, int Completion)? usage, CancellationToken cancellationToken)
    {
        _json.WriteEndObject();
        _json.WriteString("finish_reason", finishReason);
        _json.WriteEndObject();
        _json.WriteEndArray();
        if (usage is { } used)
        {
            _json.WriteStartObject("usage");
            _json.WriteNumber("prompt_tokens", used.Prompt);
            _json.WriteNumber("completion_tokens", used.Completion);
            _json.WriteNumber("total_tokens", used.Prompt + used.Completion);
            _json.WriteEndObject();
        }

        _json.WriteEndObject();
        _json.Flush();
        _pipe.Write("\n\n"u8);
        await FlushAsync(cancellationToken);
    }

    // Kestrel's pipe does not throw once the client is gone: the request's token says so.
    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _pipe.FlushAsync(cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
    }

    private static Task DelayAsync(int milliseconds, CancellationToken cancellationToken) =>
        milliseconds == 0 ? Task.CompletedTask : Task.Delay(milliseconds, cancellationToken);

    private bool Cut()
    {
        _context.Abort();
        return false;
    }
}
