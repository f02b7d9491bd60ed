using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Qlaw.Core.Telemetry;

namespace Qlaw.Core.Tests;

/// <summary>The <c>Telemetry</c> section as other names for the standard <c>OTEL_*</c> settings the OTLP exporter reads.</summary>
public sealed class TelemetryOptionsTests
{
    [Fact]
    public void Nothing_is_exported_without_an_endpoint()
    {
        using var host = Host(("Telemetry:ServiceName", "qlaw"));

        Assert.Null(host.Services.GetService<TracerProvider>());
    }

    [Fact]
    public void The_section_wins_over_the_standard_variables()
    {
        var builder = Builder(
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"), ("Telemetry:OtlpEndpoint", "http://127.0.0.1:9999"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("Telemetry:Protocol", "http/protobuf"),
            ("OTEL_SERVICE_NAME", "qlaw-east"), ("Telemetry:ServiceName", "qlaw"), ("Telemetry:ExportIntervalMs", "250"));
        using var host = builder.Build();

        Assert.Equal("http://127.0.0.1:9999", builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        Assert.Equal("http/protobuf", builder.Configuration["OTEL_EXPORTER_OTLP_PROTOCOL"]);
        Assert.All(["OTEL_BSP_SCHEDULE_DELAY", "OTEL_BLRP_SCHEDULE_DELAY", "OTEL_METRIC_EXPORT_INTERVAL"], key => Assert.Equal("250", builder.Configuration[key]));
        Assert.Equal("qlaw", ServiceName(host));
    }

    [Fact]
    public void The_standard_variables_apply_when_the_section_leaves_them_out()
    {
        using var host = Host(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"), ("OTEL_SERVICE_NAME", "qlaw-east"));

        Assert.Equal("qlaw-east", ServiceName(host));
    }

    [Fact]
    public void The_service_is_named_after_the_host_unless_told_otherwise()
    {
        using var host = Host(("Telemetry:OtlpEndpoint", "http://127.0.0.1:4317"));

        Assert.Equal("Qlaw.Server", ServiceName(host));
    }

    private static string? ServiceName(IHost host) =>
        host.Services.GetRequiredService<TracerProvider>().GetResource().Attributes.FirstOrDefault(a => a.Key == "service.name").Value as string;

    private static IHost Host(params (string Key, string Value)[] values) => Builder(values).Build();

    private static HostApplicationBuilder Builder(params (string Key, string Value)[] values)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "Qlaw.Server" });
        builder.Configuration.AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value)));
        builder.AddQlawTelemetry();
        return builder;
    }
}
