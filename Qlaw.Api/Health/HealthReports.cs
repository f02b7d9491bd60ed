using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Qlaw.Contracts;
using Qlaw.Contracts.Health;
using Qlaw.Core;

namespace Qlaw.Api.Health;

/// <summary>The health checks both hosts answer with: liveness (no check) and readiness (PostgreSQL and Durable storage).</summary>
public static class HealthReports
{
    /// <summary>Checks that say whether the service can take work.</summary>
    public static bool IsReadinessCheck(HealthCheckRegistration check) => check.Tags.Contains(QlawCoreExtensions.ReadyTag);

    /// <summary>Writes <paramref name="report"/> as JSON with 200 when healthy, 503 otherwise.</summary>
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.StatusCode = report.Status == HealthStatus.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        var body = new HealthReportResponse(
            Name(report.Status),
            report.Entries.ToDictionary(e => e.Key, e => new HealthCheckResponse(Name(e.Value.Status), e.Value.Description)));
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, QlawJson.Options));
    }

    private static string Name(HealthStatus status) => status.ToString().ToLowerInvariant();
}
