using Qlaw.Functions.Health;
using Qlaw.Testing;

namespace Qlaw.Functions.Tests;

/// <summary>The Functions host answers Qlaw.Server's health checks, with the same checks and body.</summary>
[Collection(StackCollectionDefinition.Name)]
public sealed class HealthFunctionsTests(QlawStackFixture stack)
{
    [Fact]
    public async Task Ready_is_200_with_each_check_healthy_when_postgres_and_durable_storage_answer()
    {
        await using var host = await FunctionsHost.StartAsync(stack);
        var request = host.Request("GET", "/v1/health/ready");

        await HealthFunctions.Ready(request);

        var response = await TriggerResponse.ReadAsync(request);
        Assert.Equal(200, response.Status);
        Assert.Equal("healthy", response.Json.GetProperty("status").GetString());
        Assert.Equal("healthy", response.Json.GetProperty("checks").GetProperty("postgres").GetProperty("status").GetString());
        Assert.Equal("healthy", response.Json.GetProperty("checks").GetProperty("durable-storage").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Ready_is_503_naming_the_check_when_postgres_does_not_answer()
    {
        await using var unreachable = await FunctionsHost.StartAsync(stack, new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = $"Host=127.0.0.1;Port={AppHost.LocalStack.Network.FreePort()};Timeout=2",
            ["Database:MigrateOnStartup"] = "false",
        });
        var request = unreachable.Request("GET", "/v1/health/ready");

        await HealthFunctions.Ready(request);

        var response = await TriggerResponse.ReadAsync(request);
        Assert.Equal(503, response.Status);
        Assert.Equal("unhealthy", response.Json.GetProperty("checks").GetProperty("postgres").GetProperty("status").GetString());
    }
}
