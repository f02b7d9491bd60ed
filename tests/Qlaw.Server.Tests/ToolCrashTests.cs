using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Qlaw.Bench.Stack;

namespace Qlaw.Server.Tests;

/// <summary>
/// Tool calls through kill -9: runs whose agent appends lines to files through an MCP tool (tests/mcp/append-line.mjs,
/// not idempotent) while the server is SIGKILLed at random moments and started again. Every call recorded as completed
/// has its line in the file exactly once, and every line has a record: a call the kill cut off is never made again by
/// itself — its run asks a person, who is answered "no" here. It has its own stack, since it kills the server; it runs late.
/// </summary>
[Collection(QlawStackCollections.LateChaos)]
public sealed class ToolCrashTests
{
    private const int Runs = 20;

    [Fact]
    public async Task A_SIGKILL_of_the_server_repeats_no_tool_call_and_leaves_no_side_effect_without_a_record()
    {
        var folder = Directory.CreateTempSubdirectory("qlaw-lines-").FullName;
        await using var stack = await BenchStack.StartAsync(azuriteOnDisk: true);
        await using var server = await stack.StartServerAsync(ServerProfile.Chaos(new Dictionary<string, string?>
        {
            ["Recovery:StaleAfterSeconds"] = "20",
            ["Tools:Mcp:lines:Command"] = "node",
            ["Tools:Mcp:lines:Arguments:0"] = Path.Combine(stack.Repository, "tests", "mcp", "append-line.mjs"),
            ["Tools:Mcp:lines:WorkingDirectory"] = stack.Repository,
        }));
        var created = await server.Http.PostAsJsonAsync("/v1/workflows", Workflow(folder));
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());

        var runs = new List<string>();
        foreach (var i in Enumerable.Range(0, Runs))
        {
            var started = await server.Http.PostAsJsonAsync("/v1/workflows/lines/runs", new JsonObject { ["input"] = $"run {i}" });
            runs.Add(JsonNode.Parse(await started.Content.ReadAsStringAsync())!["id"]!.GetValue<string>());
        }

        // Three kills at random moments while the calls (each pausing 200 ms before its write) run.
        var random = new Random(2026);
        for (var kill = 0; kill < 3; kill++)
        {
            await Task.Delay(random.Next(300, 1500));
            server.Kill();
            await server.RestartAsync();
        }

        // Every run ends; one whose call was cut off waits for a person, who says no (the tool does not run again).
        var deadline = DateTime.UtcNow.AddMinutes(3);
        var ended = new HashSet<string>();
        while (ended.Count < Runs && DateTime.UtcNow < deadline)
        {
            foreach (var run in runs.Except(ended))
            {
                var status = JsonNode.Parse(await server.Http.GetStringAsync($"/v1/runs/{run}/status"))!["status"]!.GetValue<string>();
                if (status == "completed")
                {
                    ended.Add(run);
                }
                else if (status == "awaiting_input")
                {
                    await server.Http.PostAsJsonAsync($"/v1/runs/{run}/continue", new JsonObject { ["approve"] = false, ["reason"] = "cut off by a crash" });
                }
            }

            await Task.Delay(500);
        }

        Assert.Equal(Runs, ended.Count);
        var records = await RecordsAsync(stack.Database, runs);
        var lines = Directory.GetFiles(folder).SelectMany(File.ReadAllLines).ToList();
        Assert.Equal(lines.Count, lines.Distinct(StringComparer.Ordinal).Count());
        Assert.All(records.Where(r => r.Status == "completed"), r => Assert.Contains(r.Line, lines));
        Assert.All(lines, line => Assert.Contains(records, r => r.Line == line));
        Assert.Equal(records.Count, records.Select(r => r.Line).Distinct(StringComparer.Ordinal).Count());
        Assert.All(runs, run => Assert.Contains(records, r => r.Line.StartsWith(Guid.Parse(run).ToString("N"), StringComparison.Ordinal)));
    }

    private static JsonObject Workflow(string folder) => JsonNode.Parse($$"""
        {
          "name": "lines",
          "start_agent": "coder",
          "retry": { "max_attempts": 5, "first_interval_ms": 200 },
          "agents": [{
            "name": "coder", "role": "coder", "tools": ["lines/append_line"],
            "script": [{
              "tool_calls": [
                { "tool": "lines/append_line", "arguments": { "path": "{{folder}}/{run_id}.txt", "line": "{run_id} first", "delay_ms": 200 } },
                { "tool": "lines/append_line", "arguments": { "path": "{{folder}}/{run_id}.txt", "line": "{run_id} second", "delay_ms": 200 } }
              ],
              "say": "Both lines written.", "call": "complete"
            }]
          }]
        }
        """)!.AsObject();

    private sealed record Call(string Line, string Status);

    private static async Task<List<Call>> RecordsAsync(NpgsqlDataSource database, List<string> runs)
    {
        await using var command = database.CreateCommand("SELECT arguments->>'line', status FROM tool_calls WHERE run_id = ANY($1)");
        command.Parameters.AddWithValue(runs.Select(Guid.Parse).ToArray());
        await using var reader = await command.ExecuteReaderAsync();
        var calls = new List<Call>();
        while (await reader.ReadAsync())
        {
            calls.Add(new(reader.GetString(0), reader.GetString(1)));
        }

        return calls;
    }
}
