using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Qlaw.AppHost.LocalStack;
using Qlaw.Contracts;
using Qlaw.FakeModel;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// Agents that act through MCP tools: real MCP servers (<c>@modelcontextprotocol/server-filesystem</c> on a folder of
/// the test's, <c>server-everything</c>) started by the server from its settings, called by the scripted model and by a
/// fake OpenAI-compatible one; every call recorded before it runs and when it returns, writes approved by a person.
/// </summary>
[Collection(QlawStackCollections.Streams)]
public sealed class ToolsTests(QlawStackFixture stack) : FakeModelServerTests(stack, Settings())
{
    private static readonly string Workspace = Directory.CreateTempSubdirectory("qlaw-tools-").FullName;

    private static Dictionary<string, string?> Settings()
    {
        var modules = Path.Combine(RepositoryRoot.Find(), "node_modules", "@modelcontextprotocol");
        return new()
        {
            ["Streaming:DeltaWindowMs"] = "0",
            ["Limits:MaxToolResultChars"] = "100",
            ["Tools:Mcp:files:Command"] = "node",
            ["Tools:Mcp:files:Arguments:0"] = Path.Combine(modules, "server-filesystem", "dist", "index.js"),
            ["Tools:Mcp:files:Arguments:1"] = Workspace,
            ["Tools:Mcp:files:IdempotentTools:0"] = "read_text_file",
            ["Tools:Mcp:everything:Command"] = "node",
            ["Tools:Mcp:everything:Arguments:0"] = Path.Combine(modules, "server-everything", "dist", "index.js"),
            ["Tools:Mcp:everything:Arguments:1"] = "stdio",
        };
    }

    // A coder that makes a folder, then writes a file in it, then completes; writes need a person's approval.
    private static JsonObject Writer(string name) => JsonNode.Parse($$"""
        {
          "name": "{{name}}",
          "start_agent": "coder",
          "agents": [
            {
              "name": "coder", "role": "coder",
              "tools": ["files/create_directory", "files/write_file"],
              "approval": { "files/write_file": "required" },
              "script": [{
                "tool_calls": [
                  { "tool": "files/create_directory", "arguments": { "path": "{{Escaped(Workspace)}}/{run_id}" } },
                  { "tool": "files/write_file", "arguments": { "path": "{{Escaped(Workspace)}}/{run_id}/solution.txt", "content": "42" } }
                ],
                "say": "Written.", "call": "complete"
              }]
            }
          ]
        }
        """)!.AsObject();

    private static string Escaped(string path) => path.Replace("\\", "\\\\", StringComparison.Ordinal);

    [Fact]
    public async Task A_write_waits_for_approval_then_runs_once_and_the_run_completes()
    {
        await Runs.CreateWorkflowAsync(Writer("approved-write"));
        var runId = await Runs.StartAsync("approved-write", "write the answer");
        await Runs.WaitForAsync(runId, "awaiting_input");
        var file = Path.Combine(Workspace, Guid.Parse(runId).ToString("N"), "solution.txt");

        // The folder was made at once; the write waits, asked in the run's question, and has not happened.
        var asked = Assert.Single(await Runs.AuditAsync(runId), e => e["type"]!.GetValue<string>() == "input.requested");
        Assert.StartsWith("Approve the call files/write_file", asked["detail"]!["prompt"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.GetDirectoryName(file)));
        Assert.False(File.Exists(file));
        Assert.Equal(["files/create_directory:completed", "files/write_file:awaiting_approval"], await CallsAsync(runId));

        var approved = await Runs.PostAsync(runId, "continue", new JsonObject { ["approve"] = true, ["reason"] = "looks right" });
        Assert.Equal(HttpStatusCode.Accepted, approved.StatusCode);
        await Runs.WaitForAsync(runId, "completed");

        Assert.Equal("42", await File.ReadAllTextAsync(file));
        Assert.Equal(["files/create_directory:completed", "files/write_file:completed"], await CallsAsync(runId));
        var audit = (await Runs.AuditAsync(runId)).Select(e => e["type"]!.GetValue<string>()).Where(t => t.StartsWith("tool.", StringComparison.Ordinal)).ToList();
        Assert.Equal(["tool.called", "tool.completed", "tool.called", "tool.approved", "tool.called", "tool.completed"], audit);
    }

    [Fact]
    public async Task A_fork_keeps_the_recorded_calls_of_its_steps_and_calls_nothing_again()
    {
        await Runs.CreateWorkflowAsync(Writer("forked-write"));
        var runId = await Runs.StartAsync("forked-write", "write the answer");
        await Runs.WaitForAsync(runId, "awaiting_input");
        await Runs.PostAsync(runId, "continue", new JsonObject { ["approve"] = true });
        await Runs.WaitForAsync(runId, "completed");

        var forkId = await Runs.ForkAsync(runId, fromStep: 1);
        await Runs.WaitForAsync(forkId, "completed");

        Assert.Equal(await CallsAsync(runId), await CallsAsync(forkId));
        Assert.DoesNotContain(await Runs.AuditAsync(forkId), e => e["type"]!.GetValue<string>().StartsWith("tool.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_tool_server_that_died_is_started_again_for_the_next_call()
    {
        var lister = JsonNode.Parse($$"""
            {
              "name": "lister", "start_agent": "coder",
              "agents": [{ "name": "coder", "role": "coder", "tools": ["files/list_directory"],
                "script": [{ "tool_calls": [{ "tool": "files/list_directory", "arguments": { "path": "{{Escaped(Workspace)}}" } }], "say": "Listed.", "call": "complete" }] }]
            }
            """)!.AsObject();
        await Runs.CreateWorkflowAsync(lister);
        await Runs.WaitForAsync(await Runs.StartAsync("lister"), "completed");

        // The files server (the only process with this workspace in its arguments) dies.
        using (var kill = System.Diagnostics.Process.Start("pkill", ["-KILL", "-f", Workspace]))
        {
            await kill.WaitForExitAsync();
            Assert.Equal(0, kill.ExitCode);
        }

        await Task.Delay(500);
        var again = await Runs.StartAsync("lister");
        await Runs.WaitForAsync(again, "completed");

        var result = Assert.Single(await Runs.AuditAsync(again), e => e["type"]!.GetValue<string>() == "tool.completed")["detail"]!;
        Assert.False(result["is_error"]!.GetValue<bool>(), result.ToJsonString());
    }

    [Fact]
    public async Task A_no_in_the_conversation_denies_the_write_and_the_agent_is_told()
    {
        await Runs.CreateWorkflowAsync(Writer("denied-write"));
        var runId = await Runs.StartAsync("denied-write", "write the answer");
        await Runs.WaitForAsync(runId, "awaiting_input");

        var denied = await Runs.PostAsync(runId, "continue", new JsonObject { ["input"] = "no, not in that folder" });
        Assert.Equal(HttpStatusCode.Accepted, denied.StatusCode);
        await Runs.WaitForAsync(runId, "completed");

        Assert.False(File.Exists(Path.Combine(Workspace, Guid.Parse(runId).ToString("N"), "solution.txt")));
        Assert.Equal(["files/create_directory:completed", "files/write_file:denied"], await CallsAsync(runId));
        var decision = Assert.Single(await Runs.AuditAsync(runId), e => e["type"]!.GetValue<string>() == "tool.denied");
        Assert.Equal("no, not in that folder", decision["detail"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_QLAW_CLI_user_sees_the_calls_and_approves_the_write_by_answering_yes_in_the_conversation()
    {
        await Runs.CreateWorkflowAsync(Writer("cli-write"));

        var ask = await CliAsync("""{"model":"cli-write","input":"write the answer","stream":true}""");
        var runId = ask.Events[0].Data!["response"]!["run_id"]!.GetValue<string>();
        var answer = await CliAsync("""{"model":"cli-write","input":"yes","stream":true}""");

        SseClient.AssertFollowsContract(ask, framed: true);
        SseClient.AssertFollowsContract(answer, framed: true);
        Assert.Contains("Approve the call files/write_file", ask.CliText, StringComparison.Ordinal);
        // The arguments show once, in the question: their deltas are not text to the CLI.
        Assert.Single(ask.CliText.Split("\"content\":\"42\"").Skip(1));
        Assert.EndsWith("Written.", answer.CliText, StringComparison.Ordinal);
        Assert.Equal("completed", answer.Events[^1].Data!["response"]!["status"]!.GetValue<string>());
        Assert.Equal("42", await File.ReadAllTextAsync(Path.Combine(Workspace, Guid.Parse(runId).ToString("N"), "solution.txt")));

        // The calls are function_call items of the response, the first stream's two, the second's replayed write.
        var items = ask.Events.Concat(answer.Events).Where(e => e.Event == "response.output_item.done" && e.Data!["item"]!["type"]!.GetValue<string>() == "function_call");
        Assert.Equal(["files/create_directory", "files/write_file", "files/write_file"], items.Select(e => e.Data!["item"]!["name"]!.GetValue<string>()));
    }

    [Fact]
    public async Task The_official_node_sdk_accumulates_a_tool_call_as_a_function_call_item_within_the_agents_turn()
    {
        var workflow = JsonNode.Parse("""
            {
              "name": "sdk-echo", "start_agent": "coder",
              "agents": [{ "name": "coder", "role": "coder", "tools": ["everything/echo"],
                "script": [{ "tool_calls": [{ "tool": "everything/echo", "arguments": { "message": "hi" } }], "say": "Echoed.", "call": "complete" }] }]
            }
            """)!.AsObject();
        await Runs.CreateWorkflowAsync(workflow);

        var (exitCode, output) = await NodeScript.RunAsync(Path.Combine("sdk", "tool-calls.mjs"), Path.Combine("openai", "package.json"), Runs.Http.BaseAddress!, TimeSpan.FromMinutes(1));

        Assert.True(exitCode == 0, output);
        var result = JsonNode.Parse(output.Split('\n').Single(l => l.StartsWith("RESULT ", StringComparison.Ordinal))["RESULT ".Length..])!;
        Assert.Equal("completed", result["status"]!.GetValue<string>());
        // The turn's message opens as it begins; the call comes before its text, which goes on in a message of its own.
        Assert.Equal(["message", "function_call", "message"], result["items"]!.AsArray().Select(i => i!.GetValue<string>()));
        var call = Assert.Single(result["call"]!.AsArray())!;
        Assert.Equal(("everything/echo", "completed"), (call["name"]!.GetValue<string>(), call["status"]!.GetValue<string>()));
        Assert.Equal("hi", JsonNode.Parse(call["arguments"]!.GetValue<string>())!["message"]!.GetValue<string>());
        Assert.Equal([call["arguments"]!.GetValue<string>()], result["argument_deltas"]!.AsArray().Select(d => d!.GetValue<string>()));
        Assert.EndsWith("Echoed.", result["output_text"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_model_that_calls_two_tools_at_once_gets_both_results_and_a_retried_turn_replays_them_without_calling_again()
    {
        await Runs.CreateWorkflowAsync(OnModel("echoes", ["everything/echo", "everything/get-sum"]));
        Model.Enqueue(FakeReply.Text("Checking.").Calling("everything__echo", """{"message":"hello"}""").Calling("everything__get-sum", """{"a":2,"b":3}"""));
        Model.FailWith(500);
        Model.ReplyWith(["Both answered."], "complete");

        var runId = await Runs.StartAsync("echoes", "check the tools");
        var done = await Runs.WaitForAsync(runId, "completed");

        // Each tool ran once, in the first attempt; the second attempt was given the recorded results instead.
        Assert.Equal(["coder:failed:1", "coder:completed:2"], RunsClient.Steps(done));
        Assert.Equal(["everything/echo:completed", "everything/get-sum:completed"], await CallsAsync(runId));
        await using (var db = App.CreateDbContext())
        {
            var id = Guid.Parse(runId);
            Assert.All(await db.ToolCalls.Where(c => c.RunId == id).ToListAsync(), c => Assert.Equal(1, c.Attempt));
        }

        Assert.Equal(3, Model.Requests.Count);
        var retried = Model.Requests.Last().Body["messages"]!.AsArray();
        var results = retried.Where(m => m!["role"]!.GetValue<string>() == "tool").Select(m => m!["content"]!.ToString()).ToList();
        Assert.Equal(2, results.Count);
        Assert.Contains(results, r => r.Contains("hello", StringComparison.Ordinal));
        Assert.Contains(results, r => r.Contains('5', StringComparison.Ordinal));
        var called = (await Runs.AuditAsync(runId)).Count(e => e["type"]!.GetValue<string>() == "tool.completed");
        Assert.Equal(2, called);
    }

    [Fact]
    public async Task A_call_past_the_turns_bound_does_not_run_and_a_long_result_is_cut_both_told_to_the_model()
    {
        var echoes = JsonNode.Parse($$"""
            {
              "name": "bounded-echoes", "start_agent": "coder", "limits": { "max_tool_calls_per_turn": 1 },
              "agents": [{ "name": "coder", "role": "coder", "tools": ["everything/echo"],
                "script": [{ "tool_calls": [
                  { "tool": "everything/echo", "arguments": { "message": "{{new string('x', 300)}}" } },
                  { "tool": "everything/echo", "arguments": { "message": "second" } }
                ], "say": "Done.", "call": "complete" }] }]
            }
            """)!.AsObject();
        await Runs.CreateWorkflowAsync(echoes);
        var overCeiling = OnModel("too-many-calls", ["everything/echo"]);
        overCeiling["limits"] = new JsonObject { ["max_tool_calls_per_turn"] = 17 };

        var runId = await Runs.StartAsync("bounded-echoes");
        await Runs.WaitForAsync(runId, "completed");

        var results = (await Runs.AuditAsync(runId)).Where(e => e["type"]!.GetValue<string>() == "tool.completed").Select(e => e["detail"]!).ToList();
        Assert.Equal(2, results.Count);
        Assert.EndsWith("[cut at 100 characters (Limits:MaxToolResultChars)]", results[0]["result"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False(results[0]["is_error"]!.GetValue<bool>());
        Assert.StartsWith("Not run: this turn made its 1 tool calls (limits.max_tool_calls_per_turn)", results[1]["result"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(results[1]["is_error"]!.GetValue<bool>());
        await NamesFieldAsync(await Runs.Http.PostAsync("/v1/workflows", RunsClient.Json(overCeiling)), "limits.max_tool_calls_per_turn", "Limits:MaxToolCallsPerTurn");
    }

    [Fact]
    public async Task A_tool_the_server_does_not_have_or_a_server_it_does_not_know_is_a_400_naming_the_field()
    {
        var unknownTool = await Runs.Http.PostAsync("/v1/workflows", RunsClient.Json(OnModel("no-such-tool", ["files/delete_everything"])));
        var unknownServer = await Runs.Http.PostAsync("/v1/workflows", RunsClient.Json(OnModel("no-such-server", ["shell/*"])));
        var notGranted = OnModel("not-granted", ["files/read_text_file"]);
        notGranted["agents"]![0]!["approval"] = new JsonObject { ["files/write_file"] = "required" };
        var approvalOfOther = await Runs.Http.PostAsync("/v1/workflows", RunsClient.Json(notGranted));

        await NamesFieldAsync(unknownTool, "agents[0].tools[0]", "delete_everything");
        await NamesFieldAsync(unknownServer, "agents[0].tools[0]", "shell");
        await NamesFieldAsync(approvalOfOther, "agents[0].approval.files/write_file", "not one of this agent's tools");
    }

    private Task<SseTranscript> CliAsync(string body) => SseClient.SendAsync(Runs.Http, SseClient.CliRequest(body));

    private static async Task NamesFieldAsync(HttpResponseMessage response, string field, string said)
    {
        var problem = await ProblemAssert.IsProblem(response, HttpStatusCode.BadRequest);
        Assert.Equal([field], ProblemAssert.Fields(problem));
        Assert.Contains(said, problem.GetProperty("errors").GetProperty(field)[0].GetString(), StringComparison.Ordinal);
    }

    private static JsonObject OnModel(string name, string[] tools) => new()
    {
        ["name"] = name,
        ["start_agent"] = "coder",
        ["model"] = new JsonObject { ["provider"] = "openai" },
        ["retry"] = new JsonObject { ["max_attempts"] = 3, ["first_interval_ms"] = 100 },
        ["agents"] = new JsonArray(new JsonObject { ["name"] = "coder", ["role"] = "coder", ["tools"] = new JsonArray([.. tools.Select(t => JsonValue.Create(t))]) }),
    };

    private async Task<List<string>> CallsAsync(string runId)
    {
        var id = Guid.Parse(runId);
        await using var db = App.CreateDbContext();
        return [.. (await db.ToolCalls.Where(c => c.RunId == id).OrderBy(c => c.Id).ToListAsync()).Select(c => $"{c.Tool}:{QlawJson.EnumName(c.Status)}")];
    }
}
