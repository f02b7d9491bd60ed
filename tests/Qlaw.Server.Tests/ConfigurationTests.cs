using System.Diagnostics;
using System.Net;
using Qlaw.AppHost.LocalStack;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// Configuration as an operator meets it: a broken config.yaml or setting stops the server at start with one readable
/// line per key; live edits of non-critical settings apply, invalid ones are rejected and the last good values stay.
/// </summary>
[Collection(QlawStackCollections.Streams)]
public sealed class ConfigurationTests(QlawStackFixture stack) : IDisposable
{
    private readonly string _yaml = Path.Combine(Path.GetTempPath(), $"qlaw-config-{Guid.NewGuid():N}.yaml");

    public void Dispose() => File.Delete(_yaml);

    [Fact]
    public async Task Malformed_yaml_stops_the_server_with_the_file_position_and_no_stack_trace()
    {
        await File.WriteAllTextAsync(_yaml, "Runs:\n  MaxAttempts: 3\n   FirstRetryIntervalMs: [oops\n");

        var (code, output) = await RunToExitAsync(new() { ["QLAW_CONFIG"] = _yaml });

        Assert.Equal(2, code);
        var line = Assert.Single(ErrorLines(output));
        Assert.Contains(_yaml, line, StringComparison.Ordinal);
        Assert.Contains("not valid YAML at line 3", line, StringComparison.Ordinal);
        AssertNoStackTrace(output);
    }

    [Fact]
    public async Task Missing_required_keys_out_of_range_unconvertible_and_unknown_values_are_each_named_on_one_line()
    {
        await File.WriteAllTextAsync(_yaml, """
            Runs:
              MaxAttempts: 99
              MaxAtempts: 3
            Streaming:
              DeltaWindowMs: fast
            RateLimits:
              RunCreation:
                Burst: 0
            Logging:
              LogLevel:
                Default: Chatty
            """);

        var (code, output) = await RunToExitAsync(new() { ["QLAW_CONFIG"] = _yaml, ["ConnectionStrings:Postgres"] = null });

        Assert.Equal(2, code);
        var lines = ErrorLines(output);
        Assert.Collection(
            lines.Order(StringComparer.Ordinal),
            l => Assert.StartsWith("qlaw: configuration error: ConnectionStrings:Postgres is not set", l, StringComparison.Ordinal),
            l => Assert.StartsWith("qlaw: configuration error: Logging:LogLevel:Default: 'Chatty' is not a log level", l, StringComparison.Ordinal),
            l => Assert.StartsWith("qlaw: configuration error: RateLimits:RunCreation:Burst: ", l, StringComparison.Ordinal),
            l => Assert.StartsWith("qlaw: configuration error: Runs:MaxAtempts: not a known setting", l, StringComparison.Ordinal),
            l => Assert.StartsWith("qlaw: configuration error: Runs:MaxAttempts: The field MaxAttempts must be between 1 and 20.", l, StringComparison.Ordinal),
            l => Assert.StartsWith("qlaw: configuration error: Streaming:DeltaWindowMs: 'fast' is not a valid whole number", l, StringComparison.Ordinal));
        AssertNoStackTrace(output);
    }

    [Fact]
    public async Task Out_of_range_values_are_named_with_their_limits()
    {
        await File.WriteAllTextAsync(_yaml, "Runs:\n  MaxAttempts: 99\nDurable:\n  HubName: '9 bad'\n");

        var (code, output) = await RunToExitAsync(new() { ["QLAW_CONFIG"] = _yaml });

        Assert.Equal(2, code);
        Assert.Collection(
            ErrorLines(output).Order(StringComparer.Ordinal),
            l => Assert.Contains("configuration error: Durable:HubName must be 3-45 letters and digits", l, StringComparison.Ordinal),
            l => Assert.Contains("Runs:MaxAttempts: The field MaxAttempts must be between 1 and 20.", l, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bad_limits_endpoints_proxies_and_retention_stop_the_server_naming_each_key()
    {
        await File.WriteAllTextAsync(_yaml, """
            Limits:
              MaxSteps: 5000
            Models:
              Endpoints:
                local:
                  ApiKeyVariable: "not a name"
                other:
                  BaseUrl: "http://127.0.0.1:9/v1"
                  AllowedModels: [a]
                  DefaultModel: b
            Retention:
              DeleteRunsAfterSeconds: -1
            """);

        var (code, output) = await RunToExitAsync(new() { ["QLAW_CONFIG"] = _yaml });

        Assert.Equal(2, code);
        Assert.Collection(
            ErrorLines(output).Order(StringComparer.Ordinal),
            l => Assert.Contains("Limits:MaxSteps: The field MaxSteps must be between 1 and 1000.", l, StringComparison.Ordinal),
            l => Assert.Contains("Models:Endpoints:local:ApiKeyVariable: Give an environment variable name", l, StringComparison.Ordinal),
            l => Assert.Contains("Models:Endpoints:local:BaseUrl: The BaseUrl field is required.", l, StringComparison.Ordinal),
            l => Assert.Contains("Models:Endpoints:other:DefaultModel: 'b' is not one of AllowedModels.", l, StringComparison.Ordinal),
            l => Assert.Contains("Retention:DeleteRunsAfterSeconds: The field DeleteRunsAfterSeconds must be between 0 and 315360000.", l, StringComparison.Ordinal));
        AssertNoStackTrace(output);
    }

    [Fact]
    public async Task An_MCP_server_with_neither_or_both_of_a_command_and_a_URL_stops_the_server_naming_it()
    {
        await File.WriteAllTextAsync(_yaml, """
            Tools:
              Mcp:
                none:
                  IdempotentTools: [read]
                both:
                  Command: node
                  Url: "http://127.0.0.1:9/mcp"
                "bad name!":
                  Command: node
                  Shell: true
            """);

        var (code, output) = await RunToExitAsync(new() { ["QLAW_CONFIG"] = _yaml });

        Assert.Equal(2, code);
        Assert.Collection(
            ErrorLines(output).Order(StringComparer.Ordinal),
            l => Assert.Contains("Tools:Mcp:bad name!: a server name uses letters, digits", l, StringComparison.Ordinal),
            l => Assert.Contains("Tools:Mcp:bad name!:Shell: not a known setting", l, StringComparison.Ordinal),
            l => Assert.Contains("Tools:Mcp:both: give either Command (a stdio server) or Url", l, StringComparison.Ordinal),
            l => Assert.Contains("Tools:Mcp:none: give either Command (a stdio server) or Url", l, StringComparison.Ordinal));
        AssertNoStackTrace(output);
    }

    [Fact]
    public async Task A_forwarded_headers_proxy_that_is_not_an_address_stops_the_server()
    {
        await File.WriteAllTextAsync(_yaml, "Http:\n  ForwardedHeaders:\n    KnownNetworks: ['10.0.0.0/99']\n");

        var (code, output) = await RunToExitAsync(new() { ["QLAW_CONFIG"] = _yaml });

        Assert.Equal(2, code);
        Assert.Contains("Http:ForwardedHeaders:KnownNetworks: '10.0.0.0/99' is not a network in CIDR notation", Assert.Single(ErrorLines(output)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_config_file_is_one_line()
    {
        var (code, output) = await RunToExitAsync(new() { ["QLAW_CONFIG"] = _yaml + ".absent" });

        Assert.Equal(2, code);
        Assert.Contains("does not exist", Assert.Single(ErrorLines(output)), StringComparison.Ordinal);
        AssertNoStackTrace(output);
    }

    [Fact]
    public async Task The_documented_sample_config_yaml_is_accepted_as_it_stands()
    {
        var sample = Path.Combine(RepositoryRoot.Find(), "samples", "config.yaml");
        var settings = await SettingsAsync(new() { ["QLAW_CONFIG"] = sample, ["QLAW:Database:SeedWorkflowsPath"] = Samples.WorkflowsFolder });

        // The sample's connection strings and hub name point at the local stack; QLAW__ variables override them here.
        foreach (var key in QlawStackFixture.IsolatedHubSettings().Keys.Append("ConnectionStrings:Postgres").Append("ConnectionStrings:DurableStorage").Append("Database:MigrateOnStartup"))
        {
            settings[$"QLAW:{key}"] = settings[key];
        }

        await using var server = await ServerProcess.StartAsync(new Uri($"http://127.0.0.1:{Network.FreePort()}"), settings, echo: false);
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/workflows/code-review")).StatusCode);
    }

    [Fact]
    public async Task Edited_rate_limits_apply_live_and_invalid_edits_keep_the_last_good_values()
    {
        await File.WriteAllTextAsync(_yaml, Limits(burst: 1000, perSecond: 1000));
        await using var server = await StartServerAsync();
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        Assert.Equal(0, await CountLimitedAsync(http, 30));

        await File.WriteAllTextAsync(_yaml, Limits(burst: 3, perSecond: 1));
        await WaitForAsync(() => server.Output.Contains("Applied the edited configuration of RateLimits", StringComparison.Ordinal), server);
        Assert.True(await CountLimitedAsync(http, 30) >= 20);

        // An out-of-range edit and then an unparseable file: both rejected with a log line; the tight limits stay
        // (falling back to the defaults would let all 30 calls through).
        await File.WriteAllTextAsync(_yaml, Limits(burst: 0, perSecond: 1));
        await WaitForAsync(() => server.Output.Contains("Rejected the edited configuration of RateLimits", StringComparison.Ordinal), server);
        await Task.Delay(1500);
        Assert.True(await CountLimitedAsync(http, 30) >= 20);

        await File.WriteAllTextAsync(_yaml, "RateLimits: [\n");
        await WaitForAsync(() => server.Output.Contains("Rejected the edited configuration file", StringComparison.Ordinal), server);
        await Task.Delay(1500);
        Assert.True(await CountLimitedAsync(http, 30) >= 20);
    }

    [Fact]
    public async Task Log_levels_apply_live_and_critical_settings_are_reported_as_needing_a_restart()
    {
        await File.WriteAllTextAsync(_yaml, "Logging:\n  LogLevel:\n    Default: Warning\n");
        await using var server = await StartServerAsync();
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        await File.WriteAllTextAsync(_yaml, "Logging:\n  LogLevel:\n    Default: Warning\n    Microsoft.AspNetCore.Hosting.Diagnostics: Information\nDurable:\n  HubName: otherhub\n");
        await WaitForAsync(() => server.Output.Contains("Durable:HubName changed; it is read once at start", StringComparison.Ordinal), server);
        await WaitForAsync(
            async () => (await http.GetAsync("/v1/workflows?probe=log-level")).IsSuccessStatusCode
                && server.Output.Contains("/v1/workflows?probe=log-level", StringComparison.Ordinal),
            server);

        // The hub name did not change: the server still runs work on its original hub.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);
        Assert.DoesNotContain("otherhub", server.Output, StringComparison.Ordinal);
    }

    private static string Limits(int burst, int perSecond) => $"""
        RateLimits:
          Requests:
            Burst: {burst}
            PermitsPerSecond: {perSecond}
        """;

    private static async Task<int> CountLimitedAsync(HttpClient http, int calls)
    {
        var limited = 0;
        for (var i = 0; i < calls; i++)
        {
            using var response = await http.GetAsync("/v1/workflows");
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
                limited++;
            }
            else
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }

        return limited;
    }

    private async Task<ServerProcess> StartServerAsync() =>
        await ServerProcess.StartAsync(new Uri($"http://127.0.0.1:{Network.FreePort()}"), await SettingsAsync(new() { ["QLAW_CONFIG"] = _yaml }), echo: false);

    private async Task<Dictionary<string, string?>> SettingsAsync(Dictionary<string, string?> extra)
    {
        var settings = await stack.ServerSettingsAsync();
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }

    private async Task<(int Code, string Output)> RunToExitAsync(Dictionary<string, string?> extra)
    {
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Qlaw.Server.dll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{Network.FreePort()}";
        foreach (var (key, value) in await SettingsAsync(extra))
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output + await errors);
    }

    private static List<string> ErrorLines(string output) =>
        [.. output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith("qlaw: configuration error: ", StringComparison.Ordinal))];

    private static void AssertNoStackTrace(string output)
    {
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    private static Task WaitForAsync(Func<bool> condition, ServerProcess server) => WaitForAsync(() => Task.FromResult(condition()), server);

    private static async Task WaitForAsync(Func<Task<bool>> condition, ServerProcess server)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out; the server printed:\n{server.Output}");
            await Task.Delay(100);
        }
    }
}
