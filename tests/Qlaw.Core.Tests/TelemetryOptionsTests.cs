using Microsoft.Extensions.Configuration;
using OpenTelemetry.Exporter;
using Qlaw.Core.Telemetry;

namespace Qlaw.Core.Tests;

public sealed class TelemetryOptionsTests
{
    [Fact]
    public void Nothing_is_exported_without_an_endpoint() =>
        Assert.Null(TelemetryOptions.Read(Configuration(("Telemetry:ServiceName", "qlaw")), "Qlaw.Server"));

    [Fact]
    public void Http_protobuf_appends_each_signals_path_to_the_base_url()
    {
        var export = TelemetryOptions.Read(Configuration(("Telemetry:OtlpEndpoint", "http://127.0.0.1:4318/"), ("Telemetry:Protocol", "http/protobuf")), "Qlaw.Server")!;

        Assert.Equal(OtlpExportProtocol.HttpProtobuf, export.Protocol);
        Assert.Equal(new Uri("http://127.0.0.1:4318/v1/traces"), export.For("v1/traces"));
        Assert.Equal(new Uri("http://127.0.0.1:4318/v1/metrics"), export.For("v1/metrics"));
        Assert.Equal("Qlaw.Server", export.ServiceName);
    }

    [Fact]
    public void The_standard_otel_variables_apply_when_the_section_leaves_them_out()
    {
        var export = TelemetryOptions.Read(
            Configuration(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"), ("OTEL_SERVICE_NAME", "qlaw-east")), "Qlaw.Functions")!;

        Assert.Equal(OtlpExportProtocol.Grpc, export.Protocol);
        Assert.Equal(new Uri("http://127.0.0.1:4317"), export.For("v1/traces"));
        Assert.Equal("qlaw-east", export.ServiceName);
        Assert.Null(export.IntervalMs);
    }

    [Fact]
    public void The_section_wins_over_the_standard_variables()
    {
        var export = TelemetryOptions.Read(Configuration(
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"), ("Telemetry:OtlpEndpoint", "http://127.0.0.1:9999"),
            ("Telemetry:ServiceName", "qlaw"), ("Telemetry:ExportIntervalMs", "250")), "Qlaw.Server")!;

        Assert.Equal(new Uri("http://127.0.0.1:9999"), export.Endpoint);
        Assert.Equal("qlaw", export.ServiceName);
        Assert.Equal(250, export.IntervalMs);
    }

    [Fact]
    public void A_value_that_does_not_parse_is_left_to_validation_at_start() =>
        Assert.Null(TelemetryOptions.Read(Configuration(("Telemetry:OtlpEndpoint", "http://127.0.0.1:4317"), ("Telemetry:ExportIntervalMs", "soon")), "Qlaw.Server"));

    private static IConfiguration Configuration(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build();
}
