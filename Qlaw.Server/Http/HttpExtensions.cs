using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Qlaw.Contracts;
using Qlaw.Core.Database;
using Scalar.AspNetCore;

namespace Qlaw.Server.Http;

/// <summary>HTTP conventions of the server: JSON shape, problem+json for every error, request limits.</summary>
public static class HttpExtensions
{
    /// <summary>Configures JSON, problem details and Kestrel's request limits.</summary>
    public static WebApplicationBuilder AddQlawHttp(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<HttpLimitsOptions>().BindConfiguration("Http").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.Configure<JsonOptions>(options => QlawJson.Configure(options.SerializerOptions));
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = NameTheBody);
        builder.Services.AddExceptionHandler<ProblemExceptionHandler>();

        // Bad bodies throw so that ProblemExceptionHandler can name the field instead of answering an empty 400.
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.AddOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>()
            .Configure<IOptions<HttpLimitsOptions>>((kestrel, limits) => kestrel.Limits.MaxRequestBodySize = limits.Value.MaxRequestBodyBytes);
        return builder;
    }

    // Kestrel answers an oversized body itself with a bare 413; name the field like every other 4xx does.
    private static void NameTheBody(ProblemDetailsContext context)
    {
        if (context.ProblemDetails is { Status: StatusCodes.Status413PayloadTooLarge } problem and not HttpValidationProblemDetails)
        {
            var limit = context.HttpContext.RequestServices.GetRequiredService<IOptions<HttpLimitsOptions>>().Value.MaxRequestBodyBytes;
            problem.Extensions["errors"] = new Dictionary<string, string[]> { ["body"] = [$"The request body is larger than {limit} bytes."] };
        }
    }

    /// <summary>Adds the error pipeline: exceptions and bare status codes become problem+json.</summary>
    public static WebApplication UseQlawHttp(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }

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

/// <summary>Request limits (section <c>Http</c>).</summary>
public sealed class HttpLimitsOptions
{
    /// <summary>Largest request body accepted; larger ones get 413.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;
}
