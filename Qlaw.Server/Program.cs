using Qlaw.Core;
using Qlaw.Server.Health;
using Qlaw.Server.Http;
using Qlaw.Server.Orchestration;
using Qlaw.Server.Runs;
using Qlaw.Server.Streaming;
using Qlaw.Server.Workflows;

var builder = WebApplication.CreateBuilder(args);

// Options, PostgreSQL, application services and readiness checks shared with the Functions host.
builder.AddQlawCore();

// The Durable Task hub on Azure Storage: worker for Core's orchestrator and activities, and the run scheduler.
builder.AddQlawDurableTask();

// JSON conventions, problem+json errors and request limits.
builder.AddQlawHttp();

// OpenAPI document at /openapi/v1.json, browsable at /scalar.
builder.Services.AddOpenApi();

var app = builder.Build();

// `Qlaw.Server migrate` applies pending migrations and exits: the production path.
if (args.Contains("migrate", StringComparer.Ordinal))
{
    await app.MigrateDatabaseAsync();
    return;
}

app.UseQlawHttp();
app.MapQlawOpenApi();
app.MapQlawHealth();
app.MapWorkflows();
app.MapRuns();
app.MapStreaming();

app.Run();

/// <summary>Entry point, visible to the test host.</summary>
public partial class Program;
