using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Qlaw.Api.Http;
using Qlaw.Core;
using Qlaw.Core.Orchestration;
using Qlaw.Functions.Orchestration;

namespace Qlaw.Functions;

/// <summary>The Functions host's services: Core and the shared API, with runs scheduled through Durable Functions.</summary>
public static class FunctionsHosting
{
    public static IHostApplicationBuilder AddQlawFunctions(this IHostApplicationBuilder builder)
    {
        // The same options, database, application services and HTTP conventions as Qlaw.Server.
        builder.AddQlawCore();
        builder.AddQlawApi();
        builder.Services.AddSingleton<DurableClientAccessor>();
        builder.Services.AddScoped<IRunScheduler, DurableClientRunScheduler>();
        return builder;
    }
}
