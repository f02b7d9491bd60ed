using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Qlaw.Api.Responses;
using Qlaw.Api.Runs;
using Qlaw.Api.Streaming;
using Qlaw.Api.Workflows;
using Qlaw.Contracts;
using Qlaw.Core.Configuration;

namespace Qlaw.Api.Http;

/// <summary>
/// The HTTP conventions both hosts share: JSON shape, problem+json for every error, request and rate limits, CORS,
/// security headers and the authorization seam.
/// </summary>
public static class ApiExtensions
{
    /// <summary>The authorization policy of every /v1 route.</summary>
    public const string ApiPolicy = "qlaw-api";

    /// <summary>Registers JSON, problem details, limits, rate limits, CORS and the authorization policy.</summary>
    public static IHostApplicationBuilder AddQlawApi(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddQlawOptions<HttpOptions>("Http");
        services.AddQlawOptions<RateLimitOptions>("RateLimits", live: true);
        services.Configure<JsonOptions>(options => QlawJson.Configure(options.SerializerOptions));
        services.AddSingleton<IProblemDetailsWriter, ProblemWriter>();
        services.AddProblemDetails(options => options.CustomizeProblemDetails = NameTheBody);
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.AddSingleton<ProblemExceptionHandler>();

        // Bad bodies throw so that ProblemExceptionHandler can name the field instead of answering an empty 400.
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.AddCors();
        services.AddOptions<CorsOptions>().Configure<IOptions<HttpOptions>>((cors, http) => cors.AddDefaultPolicy(policy =>
        {
            var origins = http.Value.Cors.AllowedOrigins;
            _ = origins.Contains("*") ? policy.AllowAnyOrigin() : policy.WithOrigins(origins);
            policy.AllowAnyHeader().WithMethods("GET", "POST", "DELETE").WithExposedHeaders("Location", "Retry-After", StreamingApi.IgnoredParametersHeader)
                .SetPreflightMaxAge(TimeSpan.FromSeconds(http.Value.Cors.PreflightMaxAgeSeconds));
        }));
        services.AddQlawRateLimiting();
        services.AddQlawForwardedHeaders();

        // The authorization seam: one policy on every /v1 route, allow-all until authentication is added.
        services.AddAuthorizationBuilder().AddPolicy(ApiPolicy, policy => policy.RequireAssertion(_ => true));
        return builder;
    }

    /// <summary>
    /// Maps every /v1 route in one group: the authorization policy and the per-client request budget apply to each
    /// route; routes that start runs use the run-creation budget instead.
    /// </summary>
    public static RouteGroupBuilder MapQlawApi(this IEndpointRouteBuilder routes)
    {
        // Every route can be refused for its client's budget (429) and while the database is out of reach (503).
        var api = routes.MapGroup("").RequireAuthorization(ApiPolicy).RequireRateLimiting(RateLimiting.Requests)
            .ProducesProblem(StatusCodes.Status429TooManyRequests).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        api.MapWorkflows();
        api.MapRuns();
        api.MapStreaming();
        api.MapResponses();
        return api;
    }

    /// <summary>
    /// The answers of a route that reads a JSON body, for the OpenAPI document: 400 naming the field of a body that is
    /// not the JSON asked for, 413 for one too large, 415 for one that is not <c>application/json</c>.
    /// </summary>
    public static RouteHandlerBuilder ReadsJsonBody(this RouteHandlerBuilder builder) =>
        builder.ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

    /// <summary>Sets the security headers of <see cref="HttpOptions.SecurityHeaders"/> on a response.</summary>
    public static void ApplySecurityHeaders(HttpResponse response, SecurityHeaderSettings settings)
    {
        if (!settings.Enabled)
        {
            return;
        }

        var headers = response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ContentSecurityPolicy = response.HttpContext.Request.Path.StartsWithSegments("/scalar")
            ? settings.ApiReferenceContentSecurityPolicy
            : settings.ContentSecurityPolicy;
    }

    /// <summary>
    /// JSON bodies are UTF-8: a request declaring another charset gets 415 problem+json before a reader tries (and
    /// fails) to decode it. Returns true when it answered.
    /// </summary>
    public static async Task<bool> RefuseForeignCharsetAsync(HttpContext context)
    {
        if (context.Request.ContentType is { } contentType
            && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media)
            && media.Charset is { Length: > 0 } charset
            && !charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("utf8", StringComparison.OrdinalIgnoreCase))
        {
            context.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails = { Status = StatusCodes.Status415UnsupportedMediaType, Title = "Send the body as application/json in UTF-8." },
            });
            return true;
        }

        return false;
    }

    // Oversized and non-JSON bodies are refused with bare status codes; explain them and name the field like every
    // other 4xx does.
    private static void NameTheBody(ProblemDetailsContext context)
    {
        switch (context.ProblemDetails)
        {
            case { Status: StatusCodes.Status413PayloadTooLarge } problem and not HttpValidationProblemDetails:
                var limit = context.HttpContext.RequestServices.GetRequiredService<IOptions<HttpOptions>>().Value.MaxRequestBodyBytes;
                problem.Extensions["errors"] = new Dictionary<string, string[]> { ["body"] = [$"The request body is larger than {limit} bytes."] };
                break;
            case { Status: StatusCodes.Status415UnsupportedMediaType, Detail: null } problem:
                problem.Detail = "Send the body as application/json in UTF-8.";
                break;
        }
    }
}
