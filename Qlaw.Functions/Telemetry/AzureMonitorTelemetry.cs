using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Resources;
using Qlaw.Core.Telemetry;

namespace Qlaw.Functions.Telemetry;

/// <summary>
/// Qlaw's own spans and metrics to Application Insights: the same sources and meters Qlaw.Server exports over OTLP
/// (<see cref="TelemetryExtensions.AddQlawTracing"/>, <see cref="TelemetryExtensions.AddQlawMetrics"/>), sent with the
/// Azure Monitor exporter whenever the Functions platform sets the app's Application Insights connection string.
/// The host's own logs and invocations go there already; this adds what happens inside a run.
/// </summary>
public static class AzureMonitorTelemetry
{
    /// <summary>The app setting the platform reads for Application Insights; unset, nothing is exported.</summary>
    public const string ConnectionStringSetting = "APPLICATIONINSIGHTS_CONNECTION_STRING";

    /// <summary>Adds the Azure Monitor export when <see cref="ConnectionStringSetting"/> is set.</summary>
    public static IHostApplicationBuilder AddQlawAzureMonitor(this IHostApplicationBuilder builder)
    {
        if (builder.Configuration[ConnectionStringSetting] is not { Length: > 0 } connectionString)
        {
            return builder;
        }

        var serviceName = builder.Configuration["OTEL_SERVICE_NAME"] ?? "qlaw-functions";
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithTracing(tracing => tracing
                .AddQlawTracing()
                .AddAzureMonitorTraceExporter(exporter => exporter.ConnectionString = connectionString))
            .WithMetrics(metrics => metrics
                .AddQlawMetrics()
                .AddAzureMonitorMetricExporter(exporter => exporter.ConnectionString = connectionString));
        return builder;
    }
}
