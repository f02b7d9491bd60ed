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
                "Microsoft.OperationalInsights/workspaces", "Microsoft.KeyVault/vaults", "Microsoft.KeyVault/vaults/secrets",
                "Microsoft.Network/natGateways", "Microsoft.Network/virtualNetworks", "Microsoft.Authorization/roleAssignments",
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
            "AzureWebJobsStorage__accountName", "ConnectionStrings__DurableStorage", "ConnectionStrings__Postgres",
            "APPLICATIONINSIGHTS_CONNECTION_STRING", "Database__MigrateOnStartup", "Models__OpenAI__BaseUrl",
            "Models__OpenAI__ApiKey", "QLAW_RECOVERY_SCHEDULE",
        })
        {
            Assert.Contains($"'{setting}'", template, StringComparison.Ordinal);
        }

        Assert.Contains("\"name\": \"dotnet-isolated\"", template, StringComparison.Ordinal);
        Assert.Contains("\"version\": \"10.0\"", template, StringComparison.Ordinal);
        Assert.Contains("\"type\": \"SystemAssigned\"", template, StringComparison.Ordinal);
    }

    [BicepFact]
    public async Task The_app_signs_in_to_postgres_as_its_managed_identity_over_verified_tls()
    {
        var template = (await MainTemplate.Value).Output;
        var format = PostgresFormat().Match(template);
        Assert.True(format.Success, "main.bicep builds ConnectionStrings__Postgres with format('Host={0};…').");

        // What the deployment makes of it: the host, database, the app's own name as its role, no password, the pool size.
        var connectionString = JsonNode.Parse($"\"{format.Groups["format"].Value}\"")!.GetValue<string>()
            .Replace("{0}", "qlaw-pg.postgres.database.azure.com", StringComparison.Ordinal)
            .Replace("{1}", "qlaw", StringComparison.Ordinal)
            .Replace("{2}", "qlaw-func-abc", StringComparison.Ordinal)
            .Replace("{3}", "10", StringComparison.Ordinal);
        var parsed = new NpgsqlConnectionStringBuilder(connectionString);

        Assert.Equal(("qlaw-pg.postgres.database.azure.com", "qlaw", "qlaw-func-abc", null, SslMode.VerifyFull),
            (parsed.Host, parsed.Database, parsed.Username, parsed.Password, parsed.SslMode));
        Assert.Equal((10, 30, "qlaw-functions"), (parsed.MaxPoolSize, parsed.KeepAlive, parsed.ApplicationName));
        Assert.Contains("'Database__EntraAuthentication'", template, StringComparison.Ordinal);

        // The server takes Entra tokens, and the deploying operator is its Entra administrator (to give the app its role).
        var root = JsonNode.Parse(template)!;
        var server = Assert.Single(Resources(root, "Microsoft.DBforPostgreSQL/flexibleServers"));
        Assert.Equal("Enabled", server["properties"]!["authConfig"]!["activeDirectoryAuth"]!.GetValue<string>());
        Assert.Single(Resources(root, "Microsoft.DBforPostgreSQL/flexibleServers/administrators"));
    }

    [BicepFact]
    public async Task Hub_partitions_and_the_connection_budget_follow_the_maximum_instance_count()
    {
        var template = JsonNode.Parse((await MainTemplate.Value).Output)!;

        // As many partitions as instances, up to 16, on the host through its app setting; the pool size derived, with
        // a minimum that refuses a deployment whose budget leaves an instance under 2 connections.
        Assert.Contains("'AzureFunctionsJobHost__extensions__durableTask__storageProvider__partitionCount'", Text(template), StringComparison.Ordinal);
        Assert.Equal("[min(16, parameters('maximumInstanceCount'))]", template["variables"]!["hubPartitionCount"]!.GetValue<string>());
        var pool = template["parameters"]!["maxPoolSize"]!;
        Assert.Equal(2, pool["minValue"]!.GetValue<int>());
        Assert.Contains("parameters('maximumInstanceCount')", pool["defaultValue"]!.GetValue<string>(), StringComparison.Ordinal);
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

    [BicepFact]
    public async Task No_app_setting_holds_a_secret_and_no_storage_key_or_open_firewall_exists()
    {
        var template = JsonNode.Parse((await MainTemplate.Value).Output)!;
        var text = Text(template);

        // Secrets reach the app as Key Vault references; storage has no key to list, and keys are refused.
        Assert.DoesNotContain("listKeys", text, StringComparison.Ordinal);
        Assert.DoesNotContain("AccountKey", text, StringComparison.Ordinal);
        Assert.Contains("@Microsoft.KeyVault(VaultName={0};SecretName=openai-api-key)", text, StringComparison.Ordinal);
        Assert.All(Resources(template, "Microsoft.Storage/storageAccounts"), account =>
            Assert.False(account["properties"]!["allowSharedKeyAccess"]!.GetValue<bool>()));

        // The app's settings never name a password or a key (PostgreSQL takes the app's Entra token): only the Key Vault secret does.
        var secret = Assert.Single(Resources(template, "Microsoft.KeyVault/vaults/secrets"));
        Assert.Contains("items(parameters('secrets'))", Text(secret), StringComparison.Ordinal);
        var site = Text(Assert.Single(Resources(template, "Microsoft.Web/sites")));
        Assert.DoesNotContain("Password", site, StringComparison.OrdinalIgnoreCase);

        // Not all of Azure (0.0.0.0): the app's NAT address and the given ranges.
        Assert.DoesNotContain("AllowAllAzureServices", text, StringComparison.Ordinal);
        Assert.All(Resources(template, "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules"), rule =>
            Assert.NotEqual("0.0.0.0", rule["properties"]!["startIpAddress"]!.ToString()));
    }

    [BicepFact]
    public async Task The_default_connection_budget_fits_the_default_postgres_sku_at_the_maximum_instance_count()
    {
        var parameters = JsonNode.Parse((await MainTemplate.Value).Output)!["parameters"]!;
        int Default(string name) => parameters[name]!["defaultValue"]!.GetValue<int>();
        var (maxConnections, operators, instances) =
            (Default("postgresMaxConnections"), Default("postgresOperatorConnections"), Default("maximumInstanceCount"));
        const int azureReserved = 15;

        // docs/operations.md: Max Pool Size = (max_connections - 15 - operator connections) / maximumInstanceCount.
        var maxPoolSize = (maxConnections - azureReserved - operators) / instances;

        Assert.True(maxPoolSize >= 2, $"Each instance needs its LISTEN connection and at least one for queries; it gets {maxPoolSize}.");
        Assert.True(instances * maxPoolSize + azureReserved + operators <= maxConnections);
    }

    private static string Text(JsonNode node) =>
        node.ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    private static IEnumerable<JsonObject> Resources(JsonNode? node, string type) => node switch
    {
        JsonObject o => (o["type"] is JsonValue t && o.ContainsKey("apiVersion") && string.Equals(t.GetValue<string>(), type, StringComparison.OrdinalIgnoreCase) ? [o] : Enumerable.Empty<JsonObject>())
            .Concat(o.SelectMany(p => Resources(p.Value, type))),
        JsonArray a => a.SelectMany(n => Resources(n, type)),
        _ => [],
    };

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
