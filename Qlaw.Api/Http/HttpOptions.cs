using System.ComponentModel.DataAnnotations;

namespace Qlaw.Api.Http;

/// <summary>HTTP settings (section <c>Http</c>); read once at start, so a change needs a restart.</summary>
public sealed class HttpOptions
{
    /// <summary>Largest request body accepted; larger ones get 413.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Browser origins allowed to call the API (CORS); none by default.</summary>
    public CorsSettings Cors { get; set; } = new();

    /// <summary>Response headers that harden browsers' handling of the API and console.</summary>
    public SecurityHeaderSettings SecurityHeaders { get; set; } = new();
}

/// <summary>Cross-origin access (section <c>Http:Cors</c>).</summary>
public sealed class CorsSettings
{
    /// <summary>Origins such as <c>https://console.example.com</c>; <c>*</c> allows any. Empty: no CORS headers.</summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>How long browsers may cache a preflight answer.</summary>
    [Range(0, 86_400)]
    public int PreflightMaxAgeSeconds { get; set; } = 600;
}

/// <summary>Security headers (section <c>Http:SecurityHeaders</c>).</summary>
public sealed class SecurityHeaderSettings
{
    public bool Enabled { get; set; } = true;

    /// <summary>The Content-Security-Policy of every response.</summary>
    [StringLength(2000)]
    public string ContentSecurityPolicy { get; set; } =
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        "connect-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'self'";
}

/// <summary>
/// Per-client rate limits (section <c>RateLimits</c>), applied live when the file changes. A client is its remote
/// address. Run creation and all other /v1 requests have separate token buckets; open SSE streams are capped.
/// </summary>
public sealed class RateLimitOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>Budget of calls that start runs: POST /v1/workflows/{id}/runs, /v1/responses, send_responses.</summary>
    public TokenBucketSettings RunCreation { get; set; } = new() { PermitsPerSecond = 20, Burst = 100 };

    /// <summary>Budget of every other /v1 call (reads and run commands).</summary>
    public TokenBucketSettings Requests { get; set; } = new() { PermitsPerSecond = 200, Burst = 400 };

    /// <summary>Most SSE streams one client may hold open at once.</summary>
    [Range(1, 100_000)]
    public int MaxOpenStreamsPerClient { get; set; } = 100;
}

/// <summary>A token bucket: <see cref="Burst"/> calls at once, refilled at <see cref="PermitsPerSecond"/>.</summary>
public sealed class TokenBucketSettings
{
    [Range(1, 1_000_000)]
    public int PermitsPerSecond { get; set; } = 100;

    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 200;
}
