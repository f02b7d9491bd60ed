using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;
using Qlaw.Core;

var builder = FunctionsApplication.CreateBuilder(args);

// ASP.NET Core integration: HTTP triggers see HttpRequest/HttpResponse like Qlaw.Server's endpoints.
builder.ConfigureFunctionsWebApplication();

// The same options, database and application services as Qlaw.Server.
builder.AddQlawCore();

builder.Build().Run();
