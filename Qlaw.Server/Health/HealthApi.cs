using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Qlaw.Contracts;
using Qlaw.Core;

namespace Qlaw.Server.Health;

/// <summary><c>/health/live</c> (the process answers) and <c>/health/ready</c> (PostgreSQL and Durable storage answer).</summary>
public static class HealthApi
{
    public static WebApplication MapQlawHealth(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteReport });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(QlawCoreExtensions.ReadyTag),
            ResponseWriter = WriteReport,
        });
        return app;
    }

    private static Task WriteReport(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            Status = report.Status.ToString().ToLowerInvariant(),
            Checks = report.Entries.ToDictionary(
                e => e.Key,
                e => new { Status = e.Value.Status.ToString().ToLowerInvariant(), e.Value.Description }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, QlawJson.Options));
    }
}
