using Microsoft.AspNetCore.HostFiltering;
using Microsoft.Extensions.Options;
using Npgsql;
using Qlaw.Api.Http;
using Qlaw.Core.Database;
using Qlaw.Server.RunConsole;
using Scalar.AspNetCore;
using HttpOptions = Qlaw.Api.Http.HttpOptions;

namespace Qlaw.Server.Http;

/// <summary>The server's HTTP pipeline around the shared /v1 API: Kestrel limits, middleware order, OpenAPI.</summary>
public static class HttpExtensions
{
    /// <summary>
    /// Adds the shared API services (the trusted proxies of forwarded headers among them), Kestrel's request body limit
    /// and the allowed host names (loopback and <c>Http:PublicHosts</c> unless <c>AllowedHosts</c> is set).
    /// </summary>
    public static WebApplicationBuilder AddQlawHttp(this WebApplicationBuilder builder)
    {
        builder.AddQlawApi();
        builder.Services.AddOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>()
            .Configure<IOptions<HttpOptions>>((kestrel, http) => kestrel.Limits.MaxRequestBodySize = http.Value.MaxRequestBodyBytes);
        builder.Services.AddOptions<HostFilteringOptions>().Configure<IConfiguration, IOptions<HttpOptions>>((filtering, configuration, http) =>
        {
            var configured = configuration["AllowedHosts"]?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            filtering.AllowedHosts = [.. configured is { Length: > 0 } ? configured : HttpOptions.LoopbackHosts, .. http.Value.PublicHosts];
        });
        return builder;
    }

    /// <summary>
    /// Adds the error pipeline (exceptions and bare status codes become problem+json), headers, the run console's files,
    /// CORS, limits.
    /// </summary>
    public static WebApplication UseQlawHttp(this WebApplication app)
    {
        var http = app.Services.GetRequiredService<IOptions<HttpOptions>>().Value;
        if (ForwardedClients.Configured(http))
        {
            // First, so that every limit below counts the client the trusted proxy names.
            app.UseForwardedHeaders();
        }

        app.Use((context, next) =>
        {
            // Set as the response starts, so error responses (whose headers the exception handler clears) get them too.
            context.Response.OnStarting(() =>
            {
                ApiExtensions.ApplySecurityHeaders(context.Response, http.SecurityHeaders);
                return Task.CompletedTask;
            });
            return next(context);
        });

        app.UseExceptionHandler();
        app.UseStatusCodePages();

        // The run console's files need no endpoint, rate limit or authorization: they are served before routing.
        app.UseQlawRunConsole();
        app.UseRouting();
        if (http.Cors.AllowedOrigins.Length > 0)
        {
            app.UseCors();
        }

        app.UseAuthorization();
        app.UseRateLimiter();
        app.Use(async (context, next) =>
        {
            if (!await ApiExtensions.RefuseForeignCharsetAsync(context))
            {
                await next(context);
            }
        });
        return app;
    }

    /// <summary>Maps the OpenAPI document and its browsable reference, unless <c>Http:OpenApi</c> is false.</summary>
    public static WebApplication MapQlawOpenApi(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<HttpOptions>>().Value.OpenApi)
        {
            return app;
        }

        app.MapOpenApi();
        app.MapScalarApiReference();
        return app;
    }

    /// <summary>
    /// Applies pending database migrations with the application's own configuration, then, when
    /// <see cref="AppRole.NameSetting"/> is set, creates or updates the application's own role and grants it the tables.
    /// </summary>
    public static async Task MigrateDatabaseAsync(this WebApplication app)
    {
        await DatabaseInitializer.MigrateAsync(app.Services.GetRequiredService<IServiceScopeFactory>(), CancellationToken.None);
        if (app.Configuration[AppRole.NameSetting] is { Length: > 0 } role)
        {
            await AppRole.GrantAsync(
                app.Services.GetRequiredService<NpgsqlDataSource>(), role, app.Configuration[AppRole.PasswordSetting], CancellationToken.None);
        }
    }

    /// <summary>
    /// Makes the Microsoft Entra identity <see cref="AppRole.IdentitySetting"/> a member of the application's role (run as
    /// the server's Entra administrator; the deploy script's grant step).
    /// </summary>
    public static async Task GrantIdentityAsync(this WebApplication app)
    {
        var setting = (string name) => app.Configuration[name] is { Length: > 0 } value ? value : throw new InvalidOperationException($"Set {name}.");
        await AppRole.GrantIdentityAsync(
            app.Services.GetRequiredService<NpgsqlDataSource>(), setting(AppRole.IdentitySetting), setting(AppRole.IdentityObjectIdSetting),
            setting(AppRole.NameSetting), CancellationToken.None);
    }
}
