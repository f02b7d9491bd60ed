using System.Net;
using System.Text.Json.Nodes;
using Qlaw.AppHost.LocalStack;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>Every file in samples/workflows/ is a valid workflow, and each sample runs the path its description promises.</summary>
[Collection(QlawStackCollections.Api)]
public sealed class SampleWorkflowsTests(QlawStackFixture stack) : IAsyncLifetime
{
    private static readonly string Workspace = Directory.CreateTempSubdirectory("qlaw-samples-").FullName;

    private QlawApplication _app = null!;
    private RunsClient _runs = null!;

    public async Task InitializeAsync()
    {
        _app = await QlawApplication.StartAsync(stack, await LocalTools.SettingsAsync(RepositoryRoot.Find(), Workspace));
        _runs = new RunsClient(_app.CreateClient());
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Every_sample_workflow_is_created_by_POST_v1_workflows_unchanged()
    {
        var files = Directory.GetFiles(Samples.WorkflowsFolder, "*.json").Order(StringComparer.Ordinal).ToList();

        Assert.True(files.Count >= 3, $"samples: {string.Join(", ", files)}");
        foreach (var file in files)
        {
            var posted = JsonNode.Parse(await File.ReadAllTextAsync(file))!;
            var response = await _runs.Http.PostAsync("/v1/workflows", RunsClient.Json(posted));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"{Path.GetFileName(file)}: {body}");
            Assert.True(JsonNode.DeepEquals(posted, JsonNode.Parse(body)!["config"]), $"{Path.GetFileName(file)}: {body}");
            Assert.Equal(Path.GetFileNameWithoutExtension(file), posted["name"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task The_plan_only_sample_drafts_consults_the_reviewer_and_finishes_the_plan()
    {
        await _runs.CreateWorkflowAsync(Samples.Workflow("plan-only"));

        var runId = await _runs.StartAsync("plan-only", "ship a login page");
        var completed = await _runs.WaitForAsync(runId, "completed");

        Assert.Equal(["planner:completed:1", "reviewer:completed:1", "planner:completed:1"], RunsClient.Steps(completed));
        Assert.Equal(["consult reviewer", "return planner"], await TransitionsAsync(runId));
        Assert.StartsWith("Final plan:", completed["steps"]![2]!["output"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_judge_sends_work_back_to_the_coder_that_handed_it_over_and_approves_the_revision()
    {
        await _runs.CreateWorkflowAsync(Samples.Workflow("judge-sends-back"));

        var runId = await _runs.StartAsync("judge-sends-back", "parse a number");
        var completed = await _runs.WaitForAsync(runId, "completed");

        Assert.Equal(
            ["planner:completed:1", "coder:completed:1", "judge:completed:1", "coder:completed:1", "judge:completed:1"],
            RunsClient.Steps(completed));
        Assert.Equal(["handoff coder", "handoff judge", "return coder", "handoff judge"], await TransitionsAsync(runId));
        Assert.Contains("TryParse", completed["steps"]![3]!["output"]!.GetValue<string>(), StringComparison.Ordinal);
        var audit = await _runs.AuditAsync(runId);
        Assert.DoesNotContain(audit, e => e["type"]!.GetValue<string>() == "route.rejected");
        var returned = Assert.Single(audit, e => e["type"]!.GetValue<string>() == "return");
        Assert.Equal(("judge", "coder"), (returned["detail"]!["from"]!.GetValue<string>(), returned["detail"]!["to"]!.GetValue<string>()));
    }

    [Fact]
    public async Task The_human_in_the_loop_sample_waits_for_an_answer_then_codes_and_judges()
    {
        await _runs.CreateWorkflowAsync(Samples.Workflow("human-in-the-loop"));
        var runId = await _runs.StartAsync("human-in-the-loop");
        await _runs.WaitForAsync(runId, "awaiting_input");

        var answer = await _runs.PostAsync(runId, "continue", new JsonObject { ["input"] = "C#" });
        var completed = await _runs.WaitForAsync(runId, "completed");

        Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
        Assert.Equal(["planner:completed:1", "planner:completed:1", "coder:completed:1", "judge:completed:1"], RunsClient.Steps(completed));
        var prompt = Assert.Single(await _runs.AuditAsync(runId), e => e["type"]!.GetValue<string>() == "input.requested");
        Assert.Equal("Which programming language should the code be in?", prompt["detail"]!["prompt"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_code_with_files_sample_writes_its_solution_once_a_person_approves_and_the_reviewer_reads_it_back()
    {
        await _runs.CreateWorkflowAsync(Samples.Workflow("code-with-files"));
        var runId = await _runs.StartAsync("code-with-files", "return the answer");
        await _runs.WaitForAsync(runId, "awaiting_input");
        var solution = Path.Combine(Workspace, Guid.Parse(runId).ToString("N"), "solution.cs");
        Assert.False(File.Exists(solution));

        var answer = await _runs.PostAsync(runId, "continue", new JsonObject { ["input"] = "yes" });
        var completed = await _runs.WaitForAsync(runId, "completed");

        Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
        Assert.Equal(["planner:completed:1", "coder:completed:1", "coder:completed:1", "reviewer:completed:1"], RunsClient.Steps(completed));
        Assert.Equal("static int Solve() => 42;\n", await File.ReadAllTextAsync(solution));
        var results = (await _runs.AuditAsync(runId)).Where(e => e["type"]!.GetValue<string>() == "tool.completed").Select(e => e["detail"]!).ToList();
        Assert.Equal(["files/create_directory", "files/write_file", "files/read_text_file"], results.Select(r => r["tool"]!.GetValue<string>()));
        Assert.Equal("static int Solve() => 42;", results[2]["result"]!.GetValue<string>().Trim());
    }

    // "kind to" of each handoff and return, in order.
    private async Task<List<string>> TransitionsAsync(string runId) =>
        [.. (await _runs.AuditAsync(runId))
            .Where(e => e["type"]!.GetValue<string>() is "handoff" or "return")
            .Select(e => $"{e["detail"]!["kind"]} {e["detail"]!["to"]}")];
}
