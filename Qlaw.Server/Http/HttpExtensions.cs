using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Qlaw.Contracts;
using Qlaw.Core.Configuration;
using Qlaw.Core.Database;
using Scalar.AspNetCore;

namespace Qlaw.Server.Http;

/// <summary>HTTP conventions of the server: JSON shape, problem+json for every error, request limits.</summary>
public static class HttpExtensions
{
    /// <summary>Configures JSON, problem details, request limits, rate limits, CORS and the authorization seam.</summary>
    public static WebApplicationBuilder AddQlawHttp(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddQlawOptions<HttpOptions>("Http", SettingReload.Restart);
        services.AddQlawOptions<RateLimitOptions>("RateLimits", SettingReload.Live);
        services.Configure<JsonOptions>(options => QlawJson.Configure(options.SerializerOptions));
        services.AddSingleton<IProblemDetailsWriter, ProblemWriter>();
        services.AddProblemDetails(options => options.CustomizeProblemDetails = NameTheBody);
        services.AddExceptionHandler<ProblemExceptionHandler>();

        // Bad bodies throw so that ProblemExceptionHandler can name the field instead of answering an empty 400.
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.AddOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>()
            .Configure<IOptions<HttpOptions>>((kestrel, http) => kestrel.Limits.MaxRequestBodySize = http.Value.MaxRequestBodyBytes);
        services.AddCors();
        services.AddOptions<CorsOptions>().Configure<IOptions<HttpOptions>>((cors, http) => cors.AddDefaultPolicy(policy =>
        {
            var origins = http.Value.Cors.AllowedOrigins;
            _ = origins.Contains("*") ? policy.AllowAnyOrigin() : policy.WithOrigins(origins);
            policy.AllowAnyHeader().WithMethods("GET", "POST").WithExposedHeaders("Location", "Retry-After")
                .SetPreflightMaxAge(TimeSpan.FromSeconds(http.Value.Cors.PreflightMaxAgeSeconds));
        }));
        services.AddQlawRateLimiting();

        // The authorization seam: one policy on every /v1 route, allow-all until authentication is added.
        services.AddAuthorizationBuilder().AddPolicy(ApiPolicy, policy => policy.RequireAssertion(_ => true));
        return builder;
    }

    /// <summary>The authorization policy of every /v1 route.</summary>
    public const string ApiPolicy = "qlaw-api";

    // Kestrel answers an oversized body itself with a bare 413; name the field like every other 4xx does.
    private static void NameTheBody(ProblemDetailsContext context)
    {
        if (context.ProblemDetails is { Status: StatusCodes.Status413PayloadTooLarge } problem and not HttpValidationProblemDetails)
        {
            var limit = context.HttpContext.RequestServices.GetRequiredService<IOptions<HttpOptions>>().Value.MaxRequestBodyBytes;
            problem.Extensions["errors"] = new Dictionary<string, string[]> { ["body"] = [$"The request body is larger than {limit} bytes."] };
        }
    }

    /// <summary>Adds the error pipeline (exceptions and bare status codes become problem+json), headers, CORS, limits.</summary>
    public static WebApplication UseQlawHttp(this WebApplication app)
    {
        var http = app.Services.GetRequiredService<IOptions<HttpOptions>>().Value;
        if (http.SecurityHeaders.Enabled)
        {
            var policy = http.SecurityHeaders.ContentSecurityPolicy;
            app.Use((context, next) =>
            {
                // Set as the response starts, so error responses (whose headers the exception handler clears) get them too.
                context.Response.OnStarting(() =>
                {
                    var headers = context.Response.Headers;
                    headers.XContentTypeOptions = "nosniff";
                    headers.XFrameOptions = "DENY";
                    headers["Referrer-Policy"] = "no-referrer";
                    headers.ContentSecurityPolicy = policy;
                    return Task.CompletedTask;
                });
                return next(context);
            });
        }

        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRouting();
        if (http.Cors.AllowedOrigins.Length > 0)
        {
            app.UseCors();
        }

        app.UseAuthorization();
        app.UseRateLimiter();
        app.Use(RefuseForeignCharsets);
        return app;
    }

    // JSON bodies are UTF-8; any other declared charset gets 415 before a reader tries (and fails) to decode it.
    private static async Task RefuseForeignCharsets(HttpContext context, RequestDelegate next)
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
            return;
        }

        await next(context);
    }

    /// <summary>
    /// The route group of the /v1 API: the authorization policy and the per-client request budget apply to every
    /// route in it; routes that start runs use the run-creation budget instead.
    /// </summary>
    public static RouteGroupBuilder MapQlawApi(this WebApplication app) =>
        app.MapGroup("").RequireAuthorization(ApiPolicy).RequireRateLimiting(RateLimiting.Requests);

    /// <summary>Maps the OpenAPI document and its browsable reference.</summary>
    public static WebApplication MapQlawOpenApi(this WebApplication app)
    {
        app.MapOpenApi();
        app.MapScalarApiReference();
        return app;
    }

    /// <summary>Applies pending database migrations with the application's own configuration.</summary>
    public static Task MigrateDatabaseAsync(this WebApplication app) =>
        DatabaseInitializer.MigrateAsync(app.Services.GetRequiredService<IServiceScopeFactory>(), CancellationToken.None);
}
