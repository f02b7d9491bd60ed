using System.Text.Json.Nodes;
using Npgsql;
using Qlaw.Bench.Clients;
using Qlaw.Bench.Measure;
using Qlaw.Bench.Report;
using Qlaw.Bench.Stack;
using static Qlaw.Bench.Report.ReportSection;

namespace Qlaw.Bench.Scenarios;

/// <summary>
/// What one MCP tool call adds to a turn beyond the MCP server's own time: one-turn runs whose agent calls
/// <c>server-everything</c>'s <c>echo</c> (stdio) and then answers, against the same agent answering without a call, one
/// run at a time, alternating. The call's cost to Qlaw is the turn's extra time less the call's round trip to the
/// server as its record measures it: its two recorded writes and events, and the second (zero-latency) model answer
/// that takes the result.
/// </summary>
internal static class ToolCallCost
{
    public static ServerProfile Profile(string repository) => ServerProfile.ZeroLatency() with
    {
        Extra = new Dictionary<string, string?>
        {
            ["Tools:Mcp:everything:Command"] = "node",
            ["Tools:Mcp:everything:Arguments:0"] = Path.Combine(repository, "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js"),
            ["Tools:Mcp:everything:Arguments:1"] = "stdio",
        },
    };

    public static async Task<ReportSection> RunAsync(BenchStack stack, BenchServer server, BenchScale scale, CancellationToken cancellationToken)
    {
        var api = new QlawApi(server.Http);
        await api.CreateWorkflowAsync(Workflow("bench-tool", [new JsonObject { ["tool"] = "everything/echo", ["arguments"] = new JsonObject { ["message"] = "hi" } }]), cancellationToken);
        await api.CreateWorkflowAsync(Workflow("bench-no-tool", null), cancellationToken);
        var runs = scale.IsFull ? 200 : 20;
        foreach (var _ in Enumerable.Range(0, scale.WarmupRuns))
        {
            await CompleteAsync(stack.Database, api, "bench-tool", cancellationToken);
            await CompleteAsync(stack.Database, api, "bench-no-tool", cancellationToken);
        }

        var (withTool, without, calls) = (new List<double>(), new List<double>(), new List<double>());
        for (var i = 0; i < runs; i++)
        {
            var tool = await CompleteAsync(stack.Database, api, "bench-tool", cancellationToken);
            var plain = await CompleteAsync(stack.Database, api, "bench-no-tool", cancellationToken);
            withTool.Add(await StepMsAsync(stack.Database, tool));
            without.Add(await StepMsAsync(stack.Database, plain));
            calls.Add(await CallMsAsync(stack.Database, tool));
        }

        var (a, b, c) = (new Distribution(withTool), new Distribution(without), new Distribution(calls));
        var cost = a.P50 - b.P50 - c.P50;
        return new ReportSection(
            "Tool call cost",
            $"{runs} one-turn runs of an agent that calls `server-everything`'s `echo` over stdio once, then answers, alternating with " +
            $"{runs} runs of the same agent answering without a call (zero-latency scripted model, after {scale.WarmupRuns} warm-up runs of each). " +
            "*Turn* is the step's duration as recorded (`step.completed`); *call* is the MCP round trip as recorded (`tool.completed`); " +
            "the cost is the difference of the turns' medians less the call's median: the call's two recorded writes, its events and " +
            "the model's second (zero-latency) answer, which takes the result.")
            .Table(
                ["", "p50 ms", "p95 ms", "max ms"],
                [
                    ["turn with a tool call", Ms(a.P50), Ms(a.P95), Ms(a.Max)],
                    ["turn without", Ms(b.P50), Ms(b.P95), Ms(b.Max)],
                    ["the MCP call (round trip)", Ms(c.P50), Ms(c.P95), Ms(c.Max)],
                ])
            .Goal("A tool call costs ≤ 5 ms beyond the MCP server's own time", $"{Ms(cost)} ms (p50 turn difference less p50 call)", cost <= 5);
    }

    private static JsonObject Workflow(string name, JsonArray? calls)
    {
        var turn = new JsonObject { ["say"] = "Done.", ["call"] = "complete" };
        if (calls is not null)
        {
            turn["tool_calls"] = calls;
        }

        var agent = new JsonObject { ["name"] = "coder", ["role"] = "coder", ["script"] = new JsonArray(turn) };
        if (calls is not null)
        {
            agent["tools"] = new JsonArray("everything/echo");
        }

        return new JsonObject { ["name"] = name, ["start_agent"] = "coder", ["agents"] = new JsonArray(agent) };
    }

    private static async Task<Guid> CompleteAsync(NpgsqlDataSource database, QlawApi api, string workflow, CancellationToken cancellationToken)
    {
        var id = await api.StartRunAsync(workflow, cancellationToken);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            await using var command = database.CreateCommand("SELECT status FROM runs WHERE id = $1");
            command.Parameters.AddWithValue(id);
            if (await command.ExecuteScalarAsync(cancellationToken) is "completed")
            {
                return id;
            }

            await Task.Delay(5, cancellationToken);
        }

        throw new BenchException($"Run {id} of {workflow} did not complete within 60 s: {await api.DescribeAsync(id)}");
    }

    private static Task<double> StepMsAsync(NpgsqlDataSource database, Guid runId) =>
        ScalarAsync(database, "SELECT (detail->>'duration_ms')::float8 FROM audit_logs WHERE run_id = $1 AND type = 'step.completed'", runId);

    private static Task<double> CallMsAsync(NpgsqlDataSource database, Guid runId) =>
        ScalarAsync(database, "SELECT (detail->>'duration_ms')::float8 FROM audit_logs WHERE run_id = $1 AND type = 'tool.completed'", runId);

    private static async Task<double> ScalarAsync(NpgsqlDataSource database, string sql, Guid runId)
    {
        await using var command = database.CreateCommand(sql);
        command.Parameters.AddWithValue(runId);
        return (double)(await command.ExecuteScalarAsync())!;
    }
}
