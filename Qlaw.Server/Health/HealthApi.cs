using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Qlaw.Api.Health;
using Qlaw.Api.Http;

namespace Qlaw.Server.Health;

/// <summary>
/// <c>/health/live</c> (the process answers) and <c>/health/ready</c> (PostgreSQL and Durable storage answer, from a
/// result at most two seconds old), under the per-client request budget like every other route.
/// </summary>
public static class HealthApi
{
    public static WebApplication MapQlawHealth(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = HealthReports.WriteAsync })
            .RequireRateLimiting(RateLimiting.Requests);
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = HealthReports.IsReadinessCheck,
            ResponseWriter = HealthReports.WriteAsync,
        }).RequireRateLimiting(RateLimiting.Requests);
        return app;
    }
}
