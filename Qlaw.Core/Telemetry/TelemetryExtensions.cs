using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Qlaw.Core.Configuration;

namespace Qlaw.Core.Telemetry;

/// <summary>Wiring of OpenTelemetry tracing, metrics and logs.</summary>
public static class TelemetryExtensions
{
    // Durable Task's own spans (orchestration, activity), which link a run's turns to the request that started it.
    private const string DurableTaskSource = "DurableTask.Core";

    /// <summary>
    /// Exports traces (ASP.NET Core, HttpClient, Npgsql, Durable Task, Qlaw), metrics (the same plus the runtime) and
    /// logs (with their scopes) with the OTLP exporter when <c>Telemetry:OtlpEndpoint</c> or
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set; the exporter reads the standard <c>OTEL_*</c> settings, which the
    /// <c>Telemetry</c> section's keys override. Without an endpoint the OpenTelemetry SDK is not added at all: no span
    /// is created and Qlaw's instruments record nothing.
    /// </summary>
    public static IHostApplicationBuilder AddQlawTelemetry(this IHostApplicationBuilder builder)
    {
        builder.Services.AddQlawOptions<TelemetryOptions>("Telemetry");
        builder.Configuration.AddInMemoryCollection(TelemetryOptions.StandardSettings(builder.Configuration, builder.Environment.ApplicationName));
        if (builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] is not { Length: > 0 })
        {
            return builder;
        }

        builder.Services.AddOpenTelemetry()
            .WithTracing(tracing => tracing.AddQlawTracing())
            .WithMetrics(metrics => metrics.AddQlawMetrics())
            .WithLogging(configureBuilder: null, configureOptions: options =>
            {
                // Log scopes carry run_id and step, so a run's log lines can be found next to its spans.
                options.IncludeScopes = true;
                options.IncludeFormattedMessage = true;
            })
            .UseOtlpExporter();
        return builder;
    }

    /// <summary>
    /// The spans every host exports, whatever the exporter: Qlaw's source, Durable Task's, ASP.NET Core requests (not
    /// health probes), HttpClient and Npgsql.
    /// </summary>
    public static TracerProviderBuilder AddQlawTracing(this TracerProviderBuilder tracing) => tracing
        .AddSource(QlawTelemetry.Name, DurableTaskSource)
        .AddAspNetCoreInstrumentation(options => options.Filter = context =>
            !context.Request.Path.StartsWithSegments("/health") && !context.Request.Path.StartsWithSegments("/v1/health"))
        .AddHttpClientInstrumentation()
        .AddNpgsql();

    /// <summary>The metrics every host exports: Qlaw's meter, ASP.NET Core, HttpClient, Npgsql and the runtime.</summary>
    public static MeterProviderBuilder AddQlawMetrics(this MeterProviderBuilder metrics) => metrics
        .AddMeter(QlawTelemetry.Name)
        .AddAspNetCoreInstrumentation()
        .AddHttpClientInstrumentation()
        .AddNpgsqlInstrumentation()
        .AddRuntimeInstrumentation();
}
