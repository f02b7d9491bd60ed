using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Qlaw.Core.Configuration;
using Qlaw.Functions;

IHost host;
try
{
    var builder = FunctionsApplication.CreateBuilder(args);

    // ASP.NET Core integration: HTTP triggers see HttpRequest/HttpResponse like Qlaw.Server's endpoints.
    builder.ConfigureFunctionsWebApplication();

    // The same Core and /v1 API as Qlaw.Server; runs are scheduled through the Durable Functions client.
    builder.AddQlawFunctions();

    // A broken setting stops here with one line per offending key, as in Qlaw.Server.
    host = builder.BuildValidated(builder.Build);
}
catch (OptionsValidationException exception)
{
    return QlawConfiguration.Report(exception);
}

await host.RunAsync();
return 0;
