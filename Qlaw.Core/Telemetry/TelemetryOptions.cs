using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace Qlaw.Core.Telemetry;

/// <summary>
/// Export of traces, metrics and logs over OTLP (section <c>Telemetry</c>): other names for the standard
/// <c>OTEL_*</c> settings, which the OpenTelemetry SDK reads. A key set here wins over its variable. Nothing is
/// exported unless an endpoint is set, here or in <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.
/// </summary>
public sealed class TelemetryOptions
{
    /// <summary>
    /// Base URL of the OTLP receiver, e.g. <c>http://127.0.0.1:4317</c> (grpc) or <c>http://127.0.0.1:4318</c>
    /// (http/protobuf, which appends <c>/v1/traces</c>, <c>/v1/metrics</c> and <c>/v1/logs</c>).
    /// </summary>
    [Url]
    public string? OtlpEndpoint { get; set; }

    /// <summary><c>grpc</c> or <c>http/protobuf</c>; unset: <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, else grpc.</summary>
    [RegularExpression("^(grpc|http/protobuf)$", ErrorMessage = "Use grpc or http/protobuf.")]
    public string? Protocol { get; set; }

    /// <summary>The <c>service.name</c> resource; unset: <c>OTEL_SERVICE_NAME</c>, else the host's application name.</summary>
    [StringLength(200)]
    public string? ServiceName { get; set; }

    /// <summary>How often spans, logs and metrics are sent; unset: the SDK's defaults (5 s, 1 s and 60 s).</summary>
    [Range(100, 3_600_000)]
    public int? ExportIntervalMs { get; set; }

    private static readonly (string Key, string[] Standard)[] StandardKeys =
    [
        (nameof(OtlpEndpoint), ["OTEL_EXPORTER_OTLP_ENDPOINT"]),
        (nameof(Protocol), ["OTEL_EXPORTER_OTLP_PROTOCOL"]),
        (nameof(ServiceName), ["OTEL_SERVICE_NAME"]),
        (nameof(ExportIntervalMs), ["OTEL_BSP_SCHEDULE_DELAY", "OTEL_BLRP_SCHEDULE_DELAY", "OTEL_METRIC_EXPORT_INTERVAL"]),
    ];

    /// <summary>
    /// The standard settings the section's keys stand for; when an endpoint results, <c>service.name</c> falls back to
    /// <paramref name="applicationName"/> (the SDK's own default is <c>unknown_service</c>).
    /// </summary>
    internal static Dictionary<string, string?> StandardSettings(IConfiguration configuration, string applicationName)
    {
        var section = configuration.GetSection("Telemetry");
        var settings = StandardKeys
            .Where(key => section[key.Key] is { Length: > 0 })
            .SelectMany(key => key.Standard, (key, standard) => (standard, section[key.Key]))
            .ToDictionary(pair => pair.standard, pair => pair.Item2);
        if ((settings.GetValueOrDefault("OTEL_EXPORTER_OTLP_ENDPOINT") ?? configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]) is { Length: > 0 })
        {
            settings.TryAdd("OTEL_SERVICE_NAME", configuration["OTEL_SERVICE_NAME"] ?? applicationName);
        }

        return settings;
    }
}
