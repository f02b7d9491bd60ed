using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Npgsql;

namespace Qlaw.Core.Tests.Infra;

/// <summary>infra/main.bicep compiles, lints clean, and sets what Qlaw.Functions reads.</summary>
public sealed partial class InfraTemplateTests
{
    // Compiled once for the tests that read it: each run of the compiler takes a second or two.
    private static readonly Lazy<Task<BicepResult>> MainTemplate = new(() => Bicep.RunAsync("build", "main.bicep"));

    [BicepFact]
    public async Task Main_template_compiles_to_every_resource_qlaw_needs()
    {
        var build = await MainTemplate.Value;

        Assert.True(build.ExitCode == 0, build.Errors);
        Assert.Equal("", build.Errors.Trim());
        var types = ResourceTypes(JsonNode.Parse(build.Output)!).ToHashSet(StringComparer.OrdinalIgnoreCase);
        Assert.Superset(
            new HashSet<string>(StringComparer.OrdinalIgnoreCase)
            {
                "Microsoft.Web/sites", "Microsoft.Web/serverfarms", "Microsoft.Storage/storageAccounts",
                "Microsoft.DBforPostgreSQL/flexibleServers", "Microsoft.DBforPostgreSQL/flexibleServers/databases",
                "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules", "Microsoft.Insights/components",
                "Microsoft.OperationalInsights/workspaces",
            },
            types);
    }

    [BicepFact]
    public async Task Main_template_passes_the_linter_without_a_warning()
    {
        var lint = await Bicep.RunAsync("lint", "main.bicep");

        Assert.True(lint.ExitCode == 0, lint.Errors + lint.Output);
        Assert.Equal("", (lint.Errors + lint.Output).Trim());
    }

    [BicepFact]
    public async Task Function_app_gets_the_settings_the_functions_host_reads()
    {
        var template = (await MainTemplate.Value).Output;

        foreach (var setting in new[]
        {
            "AzureWebJobsStorage", "ConnectionStrings__DurableStorage", "ConnectionStrings__Postgres",
            "APPLICATIONINSIGHTS_CONNECTION_STRING", "Database__MigrateOnStartup", "Models__OpenAI__BaseUrl",
            "Models__OpenAI__ApiKey",
        })
        {
            Assert.Contains($"'{setting}'", template, StringComparison.Ordinal);
        }

        Assert.Contains("\"name\": \"dotnet-isolated\"", template, StringComparison.Ordinal);
        Assert.Contains("\"version\": \"10.0\"", template, StringComparison.Ordinal);
        Assert.Contains("\"type\": \"SystemAssigned\"", template, StringComparison.Ordinal);
    }

    [BicepFact]
    public async Task Postgres_connection_string_keeps_any_password_intact()
    {
        var template = (await MainTemplate.Value).Output;
        var format = PostgresFormat().Match(template);
        Assert.True(format.Success, "main.bicep builds ConnectionStrings__Postgres with format('Host={0};…').");

        // What the deployment makes of it: the host, database and login, and the password with each " doubled.
        const string password = "p;a\"s's=w{o}rd";
        var connectionString = JsonNode.Parse($"\"{format.Groups["format"].Value}\"")!.GetValue<string>()
            .Replace("{0}", "qlaw-pg.postgres.database.azure.com", StringComparison.Ordinal)
            .Replace("{1}", "qlaw", StringComparison.Ordinal)
            .Replace("{2}", "qlawadmin", StringComparison.Ordinal)
            .Replace("{3}", password.Replace("\"", "\"\"", StringComparison.Ordinal), StringComparison.Ordinal);
        var parsed = new NpgsqlConnectionStringBuilder(connectionString);

        Assert.Equal(("qlaw-pg.postgres.database.azure.com", "qlaw", "qlawadmin", password, SslMode.Require),
            (parsed.Host, parsed.Database, parsed.Username, parsed.Password, parsed.SslMode));
    }

    [BicepFact]
    public async Task Example_parameters_build_with_the_password_from_the_environment()
    {
        var build = await Bicep.RunAsync("build-params", "main.bicepparam",
            new Dictionary<string, string> { ["QLAW_PG_PASSWORD"] = "example-password-1" });

        Assert.True(build.ExitCode == 0, build.Errors);
        Assert.Equal("", build.Errors.Trim());
        var parameters = JsonNode.Parse(JsonNode.Parse(build.Output)!["parametersJson"]!.GetValue<string>())!["parameters"]!;
        Assert.Equal("example-password-1", parameters["postgresAdminPassword"]!["value"]!.GetValue<string>());
        Assert.Equal("", parameters["openAIApiKey"]!["value"]!.GetValue<string>());
    }

    // Resource types at every level: main.bicep's modules compile to nested deployments.
    private static IEnumerable<string> ResourceTypes(JsonNode? node) => node switch
    {
        JsonObject o => (o["type"] is JsonValue type && o.ContainsKey("apiVersion") ? [type.GetValue<string>()] : Enumerable.Empty<string>())
            .Concat(o.SelectMany(p => ResourceTypes(p.Value))),
        JsonArray a => a.SelectMany(ResourceTypes),
        _ => [],
    };

    [GeneratedRegex("""format\('(?<format>Host=\{0\};[^']*)'""")]
    private static partial Regex PostgresFormat();
}
