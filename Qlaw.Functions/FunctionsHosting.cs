using Azure.Identity;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Qlaw.Api.Http;
using Qlaw.Core;
using Qlaw.Core.Orchestration;
using Qlaw.Functions.Orchestration;
using Qlaw.Functions.Telemetry;

namespace Qlaw.Functions;

/// <summary>The Functions host's services: Core and the shared API, with runs scheduled through Durable Functions.</summary>
public static class FunctionsHosting
{
    public static IHostApplicationBuilder AddQlawFunctions(this IHostApplicationBuilder builder)
    {
        // Before Core, which adds a keyed client only when none is registered.
        builder.AddIdentityBasedDurableStorage();

        // The same options, database, application services and HTTP conventions as Qlaw.Server.
        builder.AddQlawCore();
        builder.AddQlawApi();
        builder.Services.AddSingleton<DurableClientAccessor>();
        builder.Services.AddScoped<IRunScheduler, DurableClientRunScheduler>();

        // Qlaw's spans and metrics to Application Insights when the platform names one.
        builder.AddQlawAzureMonitor();
        return builder;
    }

    /// <summary>
    /// On Azure the storage account allows no shared key: the Durable extension reaches it through
    /// <c>AzureWebJobsStorage__accountName</c> and the app's managed identity, and Qlaw's readiness check the same way
    /// when <c>ConnectionStrings:DurableStorage</c> is the account's queue endpoint (<c>https://…queue.core.windows.net</c>)
    /// rather than a connection string.
    /// </summary>
    private static void AddIdentityBasedDurableStorage(this IHostApplicationBuilder builder)
    {
        if (Uri.TryCreate(builder.Configuration["ConnectionStrings:DurableStorage"], UriKind.Absolute, out var queues)
            && queues.Scheme == Uri.UriSchemeHttps)
        {
            builder.Services.TryAddSingleton(new QueueServiceClient(
                queues, new DefaultAzureCredential(), new QueueClientOptions { Retry = { MaxRetries = 0, NetworkTimeout = TimeSpan.FromSeconds(3) } }));
        }
    }
}
