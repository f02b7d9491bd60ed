using System.Text.Json.Nodes;
using Qlaw.AppHost.LocalStack;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// An MCP server spoken to over streamable HTTP (<c>Tools:Mcp:&lt;name&gt;:Url</c>), the kind the Functions host uses:
/// <c>server-everything</c> on a free loopback port, its key header taken from an environment variable.
/// </summary>
[Collection(QlawStackCollections.Api)]
public sealed class HttpToolsTests(QlawStackFixture stack) : IAsyncLifetime
{
    private ManagedProcess _everything = null!;
    private QlawApplication _app = null!;
    private RunsClient _runs = null!;

    public async Task InitializeAsync()
    {
        var port = Network.FreePort();
        var script = Path.Combine(RepositoryRoot.Find(), "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js");
        _everything = ManagedProcess.Start("server-everything", "node", [script, "streamableHttp"], new Dictionary<string, string?> { ["PORT"] = port.ToString() }, echo: false);
        await Network.WaitUntilAsync("server-everything", token => Network.IsListeningAsync(port, token), _everything, TimeSpan.FromSeconds(30));
        Environment.SetEnvironmentVariable("QLAW_TEST_MCP_TOKEN", "Bearer test-token");
        _app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["Tools:Mcp:web:Url"] = $"http://127.0.0.1:{port}/mcp",
            ["Tools:Mcp:web:HeaderVariables:Authorization"] = "QLAW_TEST_MCP_TOKEN",
        });
        _runs = new RunsClient(_app.CreateClient());
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _everything.DisposeAsync();
    }

    [Fact]
    public async Task An_agent_calls_a_tool_of_a_streamable_HTTP_server_and_the_run_completes_with_its_result()
    {
        await _runs.CreateWorkflowAsync(JsonNode.Parse("""
            {
              "name": "http-sum", "start_agent": "coder",
              "agents": [{ "name": "coder", "role": "coder", "tools": ["web/get-sum"],
                "script": [{ "tool_calls": [{ "tool": "web/get-sum", "arguments": { "a": 40, "b": 2 } }], "say": "Summed.", "call": "complete" }] }]
            }
            """)!.AsObject());

        var runId = await _runs.StartAsync("http-sum");
        await _runs.WaitForAsync(runId, "completed");

        var result = Assert.Single(await _runs.AuditAsync(runId), e => e["type"]!.GetValue<string>() == "tool.completed")["detail"]!;
        Assert.Equal("web/get-sum", result["tool"]!.GetValue<string>());
        Assert.False(result["is_error"]!.GetValue<bool>());
        Assert.Contains("42", result["result"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
