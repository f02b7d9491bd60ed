using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Qlaw.Testing;

/// <summary>
/// An OTLP/HTTP receiver on 127.0.0.1 that accepts <c>POST /v1/traces</c>, <c>/v1/metrics</c> and <c>/v1/logs</c> and keeps each
/// protobuf body. Protobuf stores strings as raw UTF-8, so a span name, metric name or tag value is found by a byte search.
/// </summary>
public sealed class FakeOtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, ConcurrentQueue<byte[]>> _bodies = new();

    private FakeOtlpReceiver(WebApplication app, Uri endpoint)
    {
        _app = app;
        Endpoint = endpoint;
    }

    /// <summary>Base URL to configure as the OTLP endpoint (http/protobuf).</summary>
    public Uri Endpoint { get; }

    public static async Task<FakeOtlpReceiver> StartAsync()
    {
        var (app, address) = LoopbackServer.Create();
        var receiver = new FakeOtlpReceiver(app, address);
        app.MapPost("/v1/traces", context => receiver.ReceiveAsync("traces", context));
        app.MapPost("/v1/metrics", context => receiver.ReceiveAsync("metrics", context));
        app.MapPost("/v1/logs", context => receiver.ReceiveAsync("logs", context));
        await app.StartAsync();
        return receiver;
    }

    /// <summary>
    /// Waits until the bodies received for <paramref name="signal"/> (<c>traces</c>, <c>metrics</c> or <c>logs</c>) contain every one
    /// of <paramref name="texts"/>; returns those still missing at the timeout (empty when all arrived).
    /// </summary>
    public async Task<string[]> WaitForAsync(string signal, IEnumerable<string> texts, int timeoutSeconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        string[] missing;
        while ((missing = [.. texts.Where(text => !Received(signal, text))]).Length > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        return missing;
    }

    /// <summary>True when some body received for <paramref name="signal"/> contains <paramref name="text"/> as UTF-8.</summary>
    public bool Received(string signal, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return _bodies.TryGetValue(signal, out var bodies) && bodies.Any(body => body.AsSpan().IndexOf(bytes) >= 0);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task ReceiveAsync(string signal, HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        _bodies.GetOrAdd(signal, _ => new()).Enqueue(body.ToArray());
        // An empty Export*ServiceResponse: everything accepted.
        context.Response.ContentType = "application/x-protobuf";
    }
}
