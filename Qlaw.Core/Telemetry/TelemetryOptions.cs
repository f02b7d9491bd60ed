using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using OpenTelemetry.Exporter;

namespace Qlaw.Core.Telemetry;

/// <summary>
/// Export of traces and metrics over OTLP (section <c>Telemetry</c>). Nothing is exported unless an endpoint is set,
/// here or in the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> variable.
/// </summary>
public sealed class TelemetryOptions
{
    public const string Grpc = "grpc";

    public const string HttpProtobuf = "http/protobuf";

    /// <summary>
    /// Base URL of the OTLP receiver, e.g. <c>http://127.0.0.1:4317</c> (grpc) or <c>http://127.0.0.1:4318</c>
    /// (http/protobuf, which appends <c>/v1/traces</c> and <c>/v1/metrics</c>).
    /// </summary>
    [Url]
    public string? OtlpEndpoint { get; set; }

    /// <summary><c>grpc</c> or <c>http/protobuf</c>; unset: <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, else grpc.</summary>
    [RegularExpression("^(grpc|http/protobuf)$", ErrorMessage = "Use grpc or http/protobuf.")]
    public string? Protocol { get; set; }

    /// <summary>The <c>service.name</c> resource; unset: <c>OTEL_SERVICE_NAME</c>, else the host's application name.</summary>
    [StringLength(200)]
    public string? ServiceName { get; set; }

    /// <summary>How often spans and metrics are sent; unset: the SDK's defaults (5 s for spans, 60 s for metrics).</summary>
    [Range(100, 3_600_000)]
    public int? ExportIntervalMs { get; set; }

    /// <summary>
    /// The export settings in force, or null when no endpoint is configured. Read while the host is built; values that
    /// do not parse are left to the validation at start, which reports them.
    /// </summary>
    internal static TelemetryExport? Read(IConfiguration configuration, string applicationName)
    {
        var options = new TelemetryOptions();
        try
        {
            configuration.GetSection("Telemetry").Bind(options);
        }
        catch (InvalidOperationException)
        {
            return null;
        }

        var endpoint = options.OtlpEndpoint is { Length: > 0 } own ? own : configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        if (string.IsNullOrWhiteSpace(endpoint) || !Uri.TryCreate(endpoint, UriKind.Absolute, out var uri))
        {
            return null;
        }

        var protocol = options.Protocol ?? configuration["OTEL_EXPORTER_OTLP_PROTOCOL"];
        return new TelemetryExport(
            uri,
            protocol == HttpProtobuf ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc,
            options.ServiceName ?? configuration["OTEL_SERVICE_NAME"] ?? applicationName,
            options.ExportIntervalMs);
    }
}

/// <summary>Where and how traces and metrics are exported.</summary>
internal sealed record TelemetryExport(Uri Endpoint, OtlpExportProtocol Protocol, string ServiceName, int? IntervalMs)
{
    /// <summary>The endpoint of one signal: the base URL for grpc, the base URL plus the signal's path for http/protobuf.</summary>
    public Uri For(string signalPath) =>
        Protocol == OtlpExportProtocol.Grpc ? Endpoint : new Uri($"{Endpoint.AbsoluteUri.TrimEnd('/')}/{signalPath}");
}
