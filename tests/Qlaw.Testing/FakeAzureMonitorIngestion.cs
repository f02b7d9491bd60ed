using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Qlaw.Testing;

/// <summary>
/// Application Insights' ingestion endpoint (<c>POST /v2.1/track</c>) on 127.0.0.1: accepts every item and keeps each
/// body as text, so that a span or metric name can be looked for.
/// </summary>
public sealed class FakeAzureMonitorIngestion : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<string> _bodies = new();

    private FakeAzureMonitorIngestion(WebApplication app, Uri address)
    {
        _app = app;
        ConnectionString = $"InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint={address}";
    }

    /// <summary>An Application Insights connection string that sends here.</summary>
    public string ConnectionString { get; }

    public static async Task<FakeAzureMonitorIngestion> StartAsync()
    {
        var (app, address) = LoopbackServer.Create();
        var ingestion = new FakeAzureMonitorIngestion(app, address);
        app.MapPost("/v2.1/track", ingestion.ReceiveAsync);
        await app.StartAsync();
        return ingestion;
    }

    /// <summary>True when some body received contains <paramref name="text"/>.</summary>
    public bool Received(string text) => _bodies.Any(body => body.Contains(text, StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task ReceiveAsync(HttpContext context)
    {
        var body = context.Request.Headers.ContentEncoding == "gzip"
            ? new GZipStream(context.Request.Body, CompressionMode.Decompress)
            : context.Request.Body;
        using var reader = new StreamReader(body, Encoding.UTF8);
        var text = await reader.ReadToEndAsync();
        _bodies.Enqueue(text);
        var items = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        await context.Response.WriteAsJsonAsync(new { itemsReceived = items, itemsAccepted = items, errors = Array.Empty<object>() });
    }
}
