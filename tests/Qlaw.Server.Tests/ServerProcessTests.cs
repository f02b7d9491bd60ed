using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Npgsql;
using Qlaw.AppHost.LocalStack;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>The server as the local stack runs it: a separate process that migrates, seeds and reports ready.</summary>
[Collection(QlawStackCollections.Processes)]
public sealed class ServerProcessTests(QlawStackFixture stack)
{
    [Fact]
    public async Task A_server_process_migrates_seeds_the_sample_workflow_and_becomes_ready()
    {
        var url = new Uri($"http://127.0.0.1:{Network.FreePort()}");
        await using var server = await ServerProcess.StartAsync(url, new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = await stack.CreateDatabaseAsync(),
            ["ConnectionStrings:DurableStorage"] = stack.Azurite.ConnectionString,
            ["Database:MigrateOnStartup"] = "true",
            ["Database:SeedWorkflowsPath"] = Samples.WorkflowsFolder,
        }, echo: false);
        using var client = new HttpClient { BaseAddress = server.BaseAddress };

        var seeded = JsonNode.Parse(await client.GetStringAsync("/v1/workflows/code-review"))!;

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Samples.WorkflowJson("code-review")), seeded["config"]));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public async Task The_migrate_command_applies_every_migration_and_exits()
    {
        var database = await stack.CreateDatabaseAsync();
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Qlaw.Server.dll"), "migrate"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["ConnectionStrings__Postgres"] = database,
                ["ConnectionStrings__DurableStorage"] = stack.Azurite.ConnectionString,
            },
        };

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 0, await output + await errors);
        // A fresh database is the normal case of a first start, not an error to alarm an operator with.
        Assert.DoesNotContain("fail:", await output + await errors, StringComparison.Ordinal);
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var tables = new NpgsqlCommand(
            "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'public'", connection);
        Assert.Equal("__EFMigrationsHistory,audit_logs,handoffs,run_events,run_signals,runs,steps,tool_calls,workflows", (string?)await tables.ExecuteScalarAsync());
    }

    [Fact]
    public async Task The_migrate_command_creates_an_app_role_that_serves_the_api_but_cannot_change_the_schema()
    {
        var database = await stack.CreateDatabaseAsync();
        var role = $"qlaw_app_{Guid.NewGuid():N}";
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Qlaw.Server.dll"), "migrate"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["ConnectionStrings__Postgres"] = database,
                ["ConnectionStrings__DurableStorage"] = stack.Azurite.ConnectionString,
                ["QLAW_APP_ROLE"] = role,
                ["QLAW_APP_ROLE_PASSWORD"] = "it's a \"secret\"",
            },
        };

        using (var process = Process.Start(info)!)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, await output + await errors);
        }

        var asApp = new NpgsqlConnectionStringBuilder(database) { Username = role }.ConnectionString;
        await using (var app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?> { ["Database:MigrateOnStartup"] = "false" }, database: asApp))
        {
            var runs = new RunsClient(app.CreateClient());
            await runs.CreateWorkflowAsync(Samples.Workflow());
            var runId = await runs.StartAsync("code-review");
            await runs.WaitForAsync(runId, "completed");
        }

        await using var connection = new NpgsqlConnection(asApp);
        await connection.OpenAsync();
        await using var ddl = new NpgsqlCommand("CREATE TABLE intruder (id int)", connection);
        var refused = await Assert.ThrowsAsync<PostgresException>(() => ddl.ExecuteNonQueryAsync());
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
    }

    [Fact]
    public async Task A_config_yaml_and_QLAW_prefixed_variables_are_layered_over_appsettings()
    {
        var yaml = Path.Combine(Path.GetTempPath(), $"qlaw-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(yaml, $"""
            Database:
              MigrateOnStartup: true
              SeedWorkflowsPath: "{Samples.WorkflowsFolder}"
            Http:
              MaxRequestBodyBytes: 1048576
            """);
        try
        {
            var url = new Uri($"http://127.0.0.1:{Network.FreePort()}");
            await using var server = await ServerProcess.StartAsync(url, new Dictionary<string, string?>
            {
                ["ConnectionStrings:Postgres"] = await stack.CreateDatabaseAsync(),
                ["ConnectionStrings:DurableStorage"] = stack.Azurite.ConnectionString,
                ["QLAW_CONFIG"] = yaml,
                ["QLAW:Http:MaxRequestBodyBytes"] = "2048",
            }, echo: false);
            using var client = new HttpClient { BaseAddress = server.BaseAddress };

            var seeded = await client.GetAsync("/v1/workflows/code-review");
            var tooLarge = await client.PostAsync("/v1/workflows", new StringContent(new string(' ', 4096) + "{}", System.Text.Encoding.UTF8, "application/json"));

            Assert.Equal(HttpStatusCode.OK, seeded.StatusCode);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        }
        finally
        {
            File.Delete(yaml);
        }
    }
}
