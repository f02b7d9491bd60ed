using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Qlaw.Api.Health;
using Qlaw.Api.Http;
using Qlaw.Functions.Http;

namespace Qlaw.Functions.Health;

/// <summary>
/// Qlaw.Server's <c>/health/live</c> and <c>/health/ready</c>, under the Functions route prefix (host.json applies it to
/// every HTTP trigger): <c>/v1/health/live</c>, <c>/v1/health/ready</c>. Same checks, same body, 503 when not ready,
/// the same per-client budget.
/// </summary>
public static class HealthFunctions
{
    [Function("HealthLive")]
    public static async Task<IActionResult> Live(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health/live")] HttpRequest request)
    {
        if (!await WithinBudgetAsync(request.HttpContext))
        {
            return new EmptyResult();
        }

        var report = await request.HttpContext.Service<HealthCheckService>().CheckHealthAsync(_ => false, request.HttpContext.RequestAborted);
        await HealthReports.WriteAsync(request.HttpContext, report);
        return new EmptyResult();
    }

    [Function("HealthReady")]
    public static async Task<IActionResult> Ready(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health/ready")] HttpRequest request)
    {
        if (!await WithinBudgetAsync(request.HttpContext))
        {
            return new EmptyResult();
        }

        var report = await request.HttpContext.Service<HealthCheckService>().CheckHealthAsync(HealthReports.IsReadinessCheck, request.HttpContext.RequestAborted);
        await HealthReports.WriteAsync(request.HttpContext, report);
        return new EmptyResult();
    }

    // The per-client request budget, with the trusted proxies' forwarded client, as on every other route.
    private static Task<bool> WithinBudgetAsync(HttpContext context)
    {
        ForwardedClients.Apply(context, context.Service<Microsoft.Extensions.Options.IOptions<HttpOptions>>().Value);
        return context.Service<ApiRateLimiter>().TryAcquireAsync(context, RateLimiting.Requests);
    }
}
