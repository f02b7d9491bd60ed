using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Qlaw.Api.Http;

/// <summary>HTTP settings (section <c>Http</c>); read once at start, so a change needs a restart.</summary>
public sealed class HttpOptions
{
    /// <summary>Largest request body accepted; larger ones get 413.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Browser origins allowed to call the API (CORS); none by default.</summary>
    [ValidateObjectMembers]
    public CorsSettings Cors { get; set; } = new();

    /// <summary>Response headers that harden browsers' handling of the API and console.</summary>
    [ValidateObjectMembers]
    public SecurityHeaderSettings SecurityHeaders { get; set; } = new();

    /// <summary>
    /// Host names (besides the loopback names) requests may be addressed to, e.g. <c>qlaw.example.com</c>; used when
    /// <c>AllowedHosts</c> is not set. Another <c>Host</c> gets 400, which defeats DNS rebinding.
    /// </summary>
    public string[] PublicHosts { get; set; } = [];

    /// <summary>Reverse proxies whose <c>X-Forwarded-For</c> / <c>X-Forwarded-Proto</c> are believed.</summary>
    [ValidateObjectMembers]
    public ForwardedHeadersSettings ForwardedHeaders { get; set; } = new();

    /// <summary>Serve the OpenAPI document (<c>/openapi/v1.json</c>) and its browsable reference (<c>/scalar</c>).</summary>
    public bool OpenApi { get; set; } = true;

    /// <summary>The host names every server answers to: a browser page cannot rebind them to another address.</summary>
    public static readonly string[] LoopbackHosts = ["localhost", "127.0.0.1", "[::1]"];
}

/// <summary>
/// Forwarded headers (section <c>Http:ForwardedHeaders</c>): honoured only from these proxies, so that rate limits and
/// active-run caps count the real client. Empty (the default): the headers are ignored.
/// </summary>
public sealed class ForwardedHeadersSettings : IValidatableObject
{
    /// <summary>Proxy addresses, e.g. <c>10.0.0.4</c>.</summary>
    public string[] KnownProxies { get; set; } = [];

    /// <summary>Proxy networks in CIDR notation, e.g. <c>10.0.0.0/24</c>.</summary>
    public string[] KnownNetworks { get; set; } = [];

    /// <summary>How many proxies in a chain are unwrapped.</summary>
    [Range(1, 10)]
    public int ForwardLimit { get; set; } = 1;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        KnownProxies.Where(p => !System.Net.IPAddress.TryParse(p, out _))
            .Select(p => new ValidationResult($"'{p}' is not an IP address.", [nameof(KnownProxies)]))
            .Concat(KnownNetworks.Where(n => !System.Net.IPNetwork.TryParse(n, out _))
                .Select(n => new ValidationResult($"'{n}' is not a network in CIDR notation (10.0.0.0/24).", [nameof(KnownNetworks)])));
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

    /// <summary>The Content-Security-Policy of every response but the API reference's: no inline script or style.</summary>
    [StringLength(2000)]
    public string ContentSecurityPolicy { get; set; } =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
        "connect-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'self'";

    /// <summary>
    /// The Content-Security-Policy of the browsable API reference (<c>/scalar</c>), whose generated page configures
    /// itself with an inline script. Turn the page off with <c>Http:OpenApi: false</c> where that matters.
    /// </summary>
    [StringLength(2000)]
    public string ApiReferenceContentSecurityPolicy { get; set; } =
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'self'";
}

/// <summary>
/// Per-client rate limits (section <c>RateLimits</c>), applied live when the file changes. A client is its remote
/// address (an IPv6 one, its /64). Run creation and all other /v1 requests have separate token buckets; open SSE
/// streams are capped per client and per instance. With Redis configured the buckets and the per-client stream cap
/// are the service's, shared by every instance.
/// </summary>
public sealed class RateLimitOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>Budget of calls that start runs: POST /v1/workflows/{id}/runs, /v1/responses, send_responses.</summary>
    [ValidateObjectMembers]
    public TokenBucketSettings RunCreation { get; set; } = new() { PermitsPerSecond = 20, Burst = 100 };

    /// <summary>Budget of every other /v1 call (reads and run commands).</summary>
    [ValidateObjectMembers]
    public TokenBucketSettings Requests { get; set; } = new() { PermitsPerSecond = 200, Burst = 400 };

    /// <summary>Most SSE streams one client may hold open at once (across the service when Redis is configured).</summary>
    [Range(1, 100_000)]
    public int MaxOpenStreamsPerClient { get; set; } = 100;

    /// <summary>
    /// Most SSE streams this instance holds open at once, all clients together: keep it below what one instance serves
    /// at once (on Flex Consumption, its HTTP concurrency), so that streams cannot take every request an instance has.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxOpenStreams { get; set; } = 5000;

    /// <summary>
    /// Bits of an IPv6 address that name a client (1–128): a host is given a /64, so one client is its /64 unless set
    /// otherwise. IPv4 addresses are clients whole.
    /// </summary>
    [Range(1, 128)]
    public int IPv6PrefixLength { get; set; } = 64;
}

/// <summary>A token bucket: <see cref="Burst"/> calls at once, refilled at <see cref="PermitsPerSecond"/>.</summary>
public sealed class TokenBucketSettings
{
    [Range(1, 1_000_000)]
    public int PermitsPerSecond { get; set; } = 100;

    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 200;
}
