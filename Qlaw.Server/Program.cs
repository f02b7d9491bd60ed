using Microsoft.Extensions.Options;
using Qlaw.Api.Http;
using Qlaw.Core;
using Qlaw.Core.Configuration;
using Qlaw.Server.Health;
using Qlaw.Server.Http;
using Qlaw.Server.Orchestration;

WebApplication app;
try
{
    var builder = WebApplication.CreateBuilder(args);

    // Options, PostgreSQL, application services and readiness checks shared with the Functions host.
    builder.AddQlawCore();

    // The Durable Task hub on Azure Storage: worker for Core's orchestrator and activities, and the run scheduler.
    builder.AddQlawDurableTask();

    // JSON conventions, problem+json errors, request and rate limits, CORS, security headers, the authorization seam.
    builder.AddQlawHttp();

    // OpenAPI document at /openapi/v1.json, browsable at /scalar.
    builder.Services.AddQlawOpenApi();

    // A broken config.yaml, environment variable or setting stops here with one line per offending key.
    app = builder.BuildValidated(builder.Build);
}
catch (OptionsValidationException exception)
{
    return QlawConfiguration.Report(exception);
}

// `Qlaw.Server migrate` applies pending migrations and exits: the production path.
if (args.Contains("migrate", StringComparer.Ordinal))
{
    await app.MigrateDatabaseAsync();
    return 0;
}

// `Qlaw.Server grant-identity` makes the app's managed identity a member of its role (Azure, as the Entra administrator).
if (args.Contains("grant-identity", StringComparer.Ordinal))
{
    await app.GrantIdentityAsync();
    return 0;
}

app.UseQlawHttp();
app.MapQlawOpenApi();
app.MapQlawHealth();
app.MapQlawApi();

await app.RunAsync();
return 0;

/// <summary>Entry point, visible to the test host.</summary>
public partial class Program;
