using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Qlaw.Api.Health;

namespace Qlaw.Server.Health;

/// <summary><c>/health/live</c> (the process answers) and <c>/health/ready</c> (PostgreSQL and Durable storage answer).</summary>
public static class HealthApi
{
    public static WebApplication MapQlawHealth(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = HealthReports.WriteAsync });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = HealthReports.IsReadinessCheck,
            ResponseWriter = HealthReports.WriteAsync,
        });
        return app;
    }
}
