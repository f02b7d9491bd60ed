using System.Net;
using System.Text.Json.Nodes;
using Qlaw.AppHost.LocalStack;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

[Collection(QlawStackCollections.Api)]
public sealed class HealthAndOpenApiTests(QlawStackFixture stack)
{
    [Fact]
    public async Task Ready_is_200_when_postgres_and_durable_storage_answer()
    {
        await using var app = await QlawApplication.StartAsync(stack);
        var client = app.CreateClient();

        var live = await client.GetAsync("/health/live");
        var ready = await client.GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var checks = JsonNode.Parse(await ready.Content.ReadAsStringAsync())!["checks"]!;
        Assert.Equal("healthy", checks["postgres"]!["status"]!.GetValue<string>());
        Assert.Equal("healthy", checks["durable-storage"]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Readiness_answers_from_a_result_a_second_or_two_old_and_health_routes_take_the_request_budget()
    {
        await using var app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["RateLimits:Requests:Burst"] = "4",
            ["RateLimits:Requests:PermitsPerSecond"] = "1",
        });
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);

        // Migrations now look pending: the probes within the result's freshness still see it ready, a later one does not.
        await using (var db = app.CreateDbContext())
        {
            await Microsoft.EntityFrameworkCore.RelationalDatabaseFacadeExtensions.ExecuteSqlRawAsync(db.Database, "DELETE FROM \"__EFMigrationsHistory\" WHERE ctid = (SELECT ctid FROM \"__EFMigrationsHistory\" ORDER BY 1 DESC LIMIT 1)");
        }

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health/ready")).StatusCode);

        // The burst of four is all but spent: the budget runs out on health routes too.
        var answers = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            answers.Add((await client.GetAsync("/health/live")).StatusCode);
        }

        Assert.Contains(HttpStatusCode.TooManyRequests, answers);
    }

    [Fact]
    public async Task Ready_is_503_but_live_is_200_when_durable_storage_is_unreachable()
    {
        var deadPort = Network.FreePort();
        await using var app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["ConnectionStrings:DurableStorage"] = stack.Azurite.ConnectionString.Replace($":{stack.Azurite.QueuePort}/", $":{deadPort}/", StringComparison.Ordinal),
        });
        var client = app.CreateClient();

        var ready = await client.GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var checks = JsonNode.Parse(await ready.Content.ReadAsStringAsync())!["checks"]!;
        Assert.Equal("unhealthy", checks["durable-storage"]!["status"]!.GetValue<string>());
        Assert.Equal("healthy", checks["postgres"]!["status"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
    }

    [Fact]
    public async Task The_openapi_document_describes_the_workflow_routes_and_has_a_browsable_reference()
    {
        await using var app = await QlawApplication.StartAsync(stack);
        var client = app.CreateClient();

        var document = JsonNode.Parse(await client.GetStringAsync("/openapi/v1.json"))!;
        var reference = await client.GetAsync("/scalar/");

        var paths = document["paths"]!.AsObject().Select(p => p.Key).ToArray();
        Assert.Contains("/v1/workflows", paths);
        Assert.Contains("/v1/workflows/{id}", paths);
        Assert.Contains("/v1/workflows/{id}/runs", paths);

        // The Responses surface: a response object or its stream; retrieve, cancel and delete.
        var create = document["paths"]!["/v1/responses"]!["post"]!["responses"]!["200"]!["content"]!.AsObject();
        Assert.Equal(["application/json", "text/event-stream"], create.Select(c => c.Key).Order(StringComparer.Ordinal));
        Assert.EndsWith("ResponseObject", create["application/json"]!["schema"]!["$ref"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(["delete", "get"], document["paths"]!["/v1/responses/{id}"]!.AsObject().Select(m => m.Key).Order(StringComparer.Ordinal));
        Assert.Contains("/v1/responses/{id}/cancel", paths);
        var response = document["components"]!["schemas"]!["ResponseObject"]!["properties"]!.AsObject().Select(p => p.Key).ToList();
        Assert.Contains("output_text", response);
        Assert.Contains("incomplete_details", response);
        Assert.Equal(HttpStatusCode.OK, reference.StatusCode);
        Assert.Contains("text/html", reference.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
    }
}
