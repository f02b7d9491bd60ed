using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace Qlaw.Api.Http;

/// <summary>
/// Which proxies' <c>X-Forwarded-For</c> / <c>X-Forwarded-Proto</c> are believed (<c>Http:ForwardedHeaders</c>), the
/// same rule on both hosts: Qlaw.Server runs ASP.NET Core's middleware with it, Qlaw.Functions applies it to each
/// trigger's request (<see cref="Apply"/>) — so behind API Management or Front Door, listed as known proxies, callers are
/// told apart instead of all counting as the proxy.
/// </summary>
public static class ForwardedClients
{
    internal static IServiceCollection AddQlawForwardedHeaders(this IServiceCollection services)
    {
        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<HttpOptions>>((forwarded, http) =>
        {
            var proxies = http.Value.ForwardedHeaders;
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            forwarded.ForwardLimit = proxies.ForwardLimit;

            // Only the configured proxies are believed, not the loopback ones ASP.NET Core trusts by default.
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var proxy in proxies.KnownProxies)
            {
                forwarded.KnownProxies.Add(IPAddress.Parse(proxy));
            }

            foreach (var network in proxies.KnownNetworks)
            {
                forwarded.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
            }
        });
        services.AddSingleton(sp => new ForwardedHeadersMiddleware(
            _ => Task.CompletedTask, sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<IOptions<ForwardedHeadersOptions>>()));
        return services;
    }

    /// <summary>Whether any proxy is trusted (otherwise the headers are ignored).</summary>
    public static bool Configured(HttpOptions http) => http.ForwardedHeaders is { KnownProxies.Length: > 0 } or { KnownNetworks.Length: > 0 };

    /// <summary>Takes the client from the forwarded headers of a trusted proxy, as Qlaw.Server's middleware does.</summary>
    public static void Apply(HttpContext context, HttpOptions http)
    {
        if (Configured(http))
        {
            context.RequestServices.GetRequiredService<ForwardedHeadersMiddleware>().ApplyForwarders(context);
        }
    }
}
