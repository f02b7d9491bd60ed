using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Qlaw.AppHost.LocalStack;
using Qlaw.Api.Http;
using Qlaw.Core;
using Qlaw.Core.Orchestration;
using Qlaw.Server.Health;

namespace Qlaw.Functions.Tests;

/// <summary>The two hosts cannot drift: the built functions.metadata declares exactly Qlaw.Server's routes.</summary>
public sealed class RouteTableTests
{
    /// <summary>
    /// Every route Qlaw.Server maps, its /v1 API and its health checks. host.json's route prefix applies to every HTTP
    /// trigger, so the health checks are served under it on Functions: <c>/health/ready</c> is <c>/v1/health/ready</c>.
    /// </summary>
    [Fact]
    public void The_http_triggers_in_functions_metadata_are_exactly_the_routes_qlaw_server_maps()
    {
        var functions = Metadata()
            .Where(f => TriggerOf(f).GetProperty("type").GetString() == "httpTrigger")
            .SelectMany(f => TriggerOf(f).GetProperty("methods").EnumerateArray()
                .Select(m => $"{m.GetString()!.ToUpperInvariant()} /{RoutePrefix()}/{TriggerOf(f).GetProperty("route").GetString()}"))
            .Order(StringComparer.Ordinal);

        Assert.Equal(ServerRoutes(), functions);
    }

    [Fact]
    public void The_orchestrator_and_every_activity_core_registers_are_functions_with_their_trigger()
    {
        var triggers = Metadata().ToDictionary(f => f.GetProperty("name").GetString()!, f => TriggerOf(f).GetProperty("type").GetString());

        foreach (var (name, _) in QlawOrchestration.Orchestrators)
        {
            Assert.Equal("orchestrationTrigger", triggers[name]);
        }

        foreach (var (name, _) in QlawOrchestration.Activities)
        {
            Assert.Equal("activityTrigger", triggers[name]);
        }
    }

    private static List<string> ServerRoutes()
    {
        // Qlaw.Server's Program maps exactly MapQlawApi(); build that route table without starting anything.
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = "Host=127.0.0.1;Port=1",
            ["ConnectionStrings:DurableStorage"] = "UseDevelopmentStorage=true",
        });
        builder.AddQlawCore();
        builder.AddQlawApi();
        builder.Services.AddSingleton<IRunScheduler>(new Moq.Mock<IRunScheduler>().Object);
        var app = builder.Build();
        app.MapQlawApi();
        app.MapQlawHealth();
        return ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>()
            // Health checks accept any method; their triggers, like every probe, use GET.
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(m => $"{m} {Prefixed(e.RoutePattern.RawText!.TrimEnd('/'))}"))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    // Qlaw.Functions' own build output, in the configuration and framework this test was built for.
    private static string FunctionsOutput
    {
        get
        {
            var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            return Path.Combine(RepositoryRoot.Find(), "Qlaw.Functions", "bin", framework.Parent!.Name, framework.Name);
        }
    }

    private static string Prefixed(string route) =>
        route.StartsWith($"/{RoutePrefix()}/", StringComparison.Ordinal) ? route : $"/{RoutePrefix()}{route}";

    internal static List<JsonElement> Metadata() =>
        [.. JsonDocument.Parse(File.ReadAllText(Path.Combine(FunctionsOutput, "functions.metadata"))).RootElement.EnumerateArray()];

    private static JsonElement TriggerOf(JsonElement function) =>
        function.GetProperty("bindings").EnumerateArray().Single(b => b.GetProperty("type").GetString()!.EndsWith("Trigger", StringComparison.Ordinal));

    private static string RoutePrefix() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot.Find(), "host.json")))
            .RootElement.GetProperty("extensions").GetProperty("http").GetProperty("routePrefix").GetString()!;
}
