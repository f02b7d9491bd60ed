using System.Net;
using System.Text.Json.Nodes;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// Safe on a developer's machine: only loopback and configured host names are answered, forwarded headers are believed
/// only from configured proxies, the console needs no inline script or style, and the API reference can be turned off.
/// </summary>
[Collection(QlawStackCollections.Streams)]
public sealed class LoopbackSafetyTests(LoopbackSafetyTests.Servers servers) : IClassFixture<LoopbackSafetyTests.Servers>
{
    private readonly QlawApplication _direct = servers.Direct;
    private readonly QlawApplication _proxied = servers.Proxied;

    /// <summary>
    /// The two servers every test of the class asks: only the forwarded-header tests start runs, one on each server.
    /// </summary>
    public sealed class Servers : IAsyncLifetime
    {
        private readonly QlawStackFixture _stack = new();

        public QlawApplication Direct { get; private set; } = null!;

        public QlawApplication Proxied { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            await _stack.InitializeAsync();
            Direct = await QlawApplication.StartAsync(_stack, new Dictionary<string, string?>
            {
                ["Http:PublicHosts:0"] = "qlaw.example.test",
                ["Limits:MaxActiveRunsPerClient"] = "1",
            });
            Proxied = await QlawApplication.StartAsync(_stack, new Dictionary<string, string?>
            {
                ["Http:ForwardedHeaders:KnownProxies:0"] = "127.0.0.1",
                ["Http:OpenApi"] = "false",
                ["Limits:MaxActiveRunsPerClient"] = "1",
                ["Limits:MaxActiveRuns"] = "2",
            });
        }

        public async Task DisposeAsync()
        {
            await Direct.DisposeAsync();
            await Proxied.DisposeAsync();
            await _stack.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("attacker.example.test", HttpStatusCode.BadRequest)]
    [InlineData("127.0.0.1.nip.io", HttpStatusCode.BadRequest)]
    [InlineData("localhost", HttpStatusCode.OK)]
    [InlineData("127.0.0.1", HttpStatusCode.OK)]
    [InlineData("[::1]", HttpStatusCode.OK)]
    [InlineData("qlaw.example.test", HttpStatusCode.OK)]
    public async Task Only_loopback_and_configured_host_names_are_answered(string host, HttpStatusCode expected)
    {
        var http = _direct.CreateClient();
        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/workflows");
        request.Headers.Host = $"{host}:{http.BaseAddress!.Port}";

        var response = await http.SendAsync(request);

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task Forwarded_for_is_ignored_unless_it_comes_from_a_configured_proxy()
    {
        var direct = new RunsClient(_direct.CreateClient());
        await direct.CreateWorkflowAsync(Waiting());

        Assert.Equal(HttpStatusCode.Accepted, (await StartAs(direct, "198.51.100.1")).StatusCode);
        await ProblemAssert.IsProblem(await StartAs(direct, "198.51.100.2"), HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task Behind_a_configured_proxy_each_forwarded_client_has_its_own_cap_under_the_servers()
    {
        var proxied = new RunsClient(_proxied.CreateClient());
        await proxied.CreateWorkflowAsync(Waiting());

        var first = await StartAs(proxied, "198.51.100.1");
        var again = await StartAs(proxied, "198.51.100.1");
        var second = await StartAs(proxied, "198.51.100.2");
        var third = await StartAs(proxied, "198.51.100.3");

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Contains("MaxActiveRunsPerClient", (await ProblemAssert.IsProblem(again, HttpStatusCode.TooManyRequests)).GetProperty("title").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.Contains("MaxActiveRuns)", (await ProblemAssert.IsProblem(third, HttpStatusCode.TooManyRequests)).GetProperty("title").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_console_needs_no_inline_script_or_style_and_the_api_reference_can_be_turned_off()
    {
        var direct = _direct.CreateClient();
        var proxied = _proxied.CreateClient();

        var console = await direct.GetAsync("/");
        var document = await direct.GetAsync("/openapi/v1.json");

        var policy = console.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'self';", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", await console.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, document.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await proxied.GetAsync("/openapi/v1.json")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await proxied.GetAsync("/scalar/")).StatusCode);
    }

    private static Task<HttpResponseMessage> StartAs(RunsClient runs, string client)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/workflows/waits/runs") { Content = RunsClient.Json(new JsonObject { ["input"] = "x" }) };
        request.Headers.Add("X-Forwarded-For", client);
        return runs.Http.SendAsync(request);
    }

    private static JsonObject Waiting()
    {
        var workflow = Samples.Workflow(newName: "waits");
        workflow["agents"]![0]!["script"] = new JsonArray(new JsonObject { ["say"] = "Which order?", ["call"] = "request_input", ["prompt"] = "Order number?" });
        return workflow;
    }
}
