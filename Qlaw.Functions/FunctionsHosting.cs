using Azure.Core;
using Azure.Identity;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
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
        // Before Core, which adds a keyed client and a data source only when none is registered.
        builder.AddIdentityBasedDurableStorage();
        builder.AddEntraPostgres();

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
    /// <summary>
    /// With <c>Database:EntraAuthentication</c>, PostgreSQL is signed in to as the app's managed identity: the password
    /// of each new connection is a Microsoft Entra token, fetched and refreshed every 30 minutes (tokens last an hour
    /// or more), tried again after 10 s when fetching fails.
    /// </summary>
    private static void AddEntraPostgres(this IHostApplicationBuilder builder)
    {
        if (!bool.TryParse(builder.Configuration["Database:EntraAuthentication"], out var entra) || !entra
            || builder.Configuration["ConnectionStrings:Postgres"] is not { Length: > 0 } connectionString)
        {
            return;
        }

        var credential = new DefaultAzureCredential();
        var scope = new TokenRequestContext(["https://ossrdbms-aad.database.windows.net/.default"]);
        builder.Services.TryAddSingleton(sp => QlawCoreExtensions.CreateDataSource(connectionString, source => source
            .UseLoggerFactory(sp.GetService<ILoggerFactory>())
            .UsePeriodicPasswordProvider(
                async (_, cancellationToken) => (await credential.GetTokenAsync(scope, cancellationToken)).Token,
                TimeSpan.FromMinutes(30),
                TimeSpan.FromSeconds(10))));
    }

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
