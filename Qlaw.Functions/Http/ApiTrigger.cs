using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Qlaw.Api.Http;
using Qlaw.Functions.Orchestration;

namespace Qlaw.Functions.Http;

/// <summary>
/// What Qlaw.Server's middleware does around each /v1 endpoint, done around each HTTP trigger with the same shared
/// pieces: the trusted proxies' forwarded headers, security headers, the UTF-8 check, the authorization policy, the
/// client's rate budget, and problem+json for
/// any exception. The trigger's handler is the shared one from Qlaw.Api.
/// </summary>
public static class ApiTrigger
{
    /// <summary>Runs <paramref name="handler"/> for <paramref name="request"/> and writes its result to the response.</summary>
    public static async Task<IActionResult> InvokeAsync(
        HttpRequest request, DurableTaskClient client, string budget, Func<HttpContext, Task<IResult>> handler)
    {
        var context = request.HttpContext;
        var services = context.RequestServices;
        services.GetRequiredService<DurableClientAccessor>().Client = client;
        var http = services.GetRequiredService<IOptions<HttpOptions>>().Value;
        context.Response.OnStarting(() =>
        {
            ApiExtensions.ApplySecurityHeaders(context.Response, http.SecurityHeaders);
            return Task.CompletedTask;
        });

        // The same trusted proxies as Qlaw.Server's, before anything counts the client.
        ForwardedClients.Apply(context, http);
        try
        {
            if (await ApiExtensions.RefuseForeignCharsetAsync(context) || !await AuthorizeAsync(context) ||
                !await services.GetRequiredService<ApiRateLimiter>().TryAcquireAsync(context, budget))
            {
                return new EmptyResult();
            }

            await (await handler(context)).ExecuteAsync(context);
        }
        catch (Exception exception) when (!context.Response.HasStarted)
        {
            context.Response.Clear();
            await services.GetRequiredService<ProblemExceptionHandler>().TryHandleAsync(context, exception, context.RequestAborted);
        }

        return new EmptyResult();
    }

    private static async Task<bool> AuthorizeAsync(HttpContext context)
    {
        var authorization = context.RequestServices.GetRequiredService<IAuthorizationService>();
        if ((await authorization.AuthorizeAsync(context.User, ApiExtensions.ApiPolicy)).Succeeded)
        {
            return true;
        }

        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = StatusCodes.Status403Forbidden },
        });
        return false;
    }

    /// <summary>A service of the invocation's scope.</summary>
    public static T Service<T>(this HttpContext context)
        where T : notnull => context.RequestServices.GetRequiredService<T>();
}
