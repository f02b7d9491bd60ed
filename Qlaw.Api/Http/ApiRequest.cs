using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Qlaw.Api.Http;

/// <summary>
/// Reads request bodies, query values and headers for hosts without minimal-API binding (Qlaw.Functions), failing
/// exactly as minimal APIs do — with the <see cref="BadHttpRequestException"/> that <see cref="ProblemExceptionHandler"/>
/// turns into the same problem+json naming the field.
/// </summary>
public static class ApiRequest
{
    /// <summary>The body as <typeparamref name="T"/>; <paramref name="optional"/> allows an empty body (null).</summary>
    public static async Task<T?> BodyAsync<T>(HttpContext context, bool optional = false)
        where T : class
    {
        var request = context.Request;
        var limit = context.RequestServices.GetRequiredService<IOptions<HttpOptions>>().Value.MaxRequestBodyBytes;
        if (request.ContentLength > limit)
        {
            throw new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge);
        }

        var empty = request.ContentLength == 0 || (request.ContentLength is null && request.Headers.TransferEncoding.Count == 0);
        if (empty)
        {
            return optional ? null : throw new BadHttpRequestException($"Implicit body inferred for parameter \"request\" but no body was provided.");
        }

        if (!request.HasJsonContentType())
        {
            throw new BadHttpRequestException("Expected a supported JSON media type.", StatusCodes.Status415UnsupportedMediaType);
        }

        var options = context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        try
        {
            await using var bounded = new BoundedStream(request.Body, limit);
            return await JsonSerializer.DeserializeAsync<T>(bounded, options, context.RequestAborted)
                ?? (optional ? null : throw new BadHttpRequestException($"Required parameter \"{typeof(T).Name} request\" was not provided from body."));
        }
        catch (JsonException exception)
        {
            throw new BadHttpRequestException($"Failed to read parameter \"{typeof(T).Name} request\" from the request body as JSON.", exception);
        }
    }

    /// <summary>An optional whole-number query value.</summary>
    public static int? QueryInt(HttpContext context, string name) =>
        Query(context, name) is { } raw
            ? int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : throw BindFailure("int?", name, raw)
            : null;

    /// <summary>An optional 64-bit query value.</summary>
    public static long? QueryLong(HttpContext context, string name) =>
        Query(context, name) is { } raw
            ? long.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : throw BindFailure("long?", name, raw)
            : null;

    /// <summary>An optional true/false query value.</summary>
    public static bool? QueryBool(HttpContext context, string name) =>
        Query(context, name) is { } raw ? bool.TryParse(raw, out var value) ? value : throw BindFailure("bool?", name, raw) : null;

    /// <summary>An optional query value.</summary>
    public static string? Query(HttpContext context, string name) =>
        context.Request.Query.TryGetValue(name, out var values) && values.Count > 0 ? values[^1] : null;

    /// <summary>An optional header value.</summary>
    public static string? Header(HttpContext context, string name) =>
        context.Request.Headers.TryGetValue(name, out var values) && values.Count > 0 ? values[^1] : null;

    private static BadHttpRequestException BindFailure(string type, string name, string raw) =>
        new($"Failed to bind parameter \"{type} {name}\" from \"{raw}\".");

    // Stops reading past the body limit when no Content-Length announced the size.
    private sealed class BoundedStream(Stream inner, long limit) : Stream
    {
        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int read)
        {
            _read += read;
            return _read > limit ? throw new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge) : read;
        }
    }
}
