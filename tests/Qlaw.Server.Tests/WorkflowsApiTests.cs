using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Qlaw.Contracts;
using Qlaw.Data;
using Qlaw.Data.Runs;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

[Collection(QlawStackCollections.Api)]
public sealed class WorkflowsApiTests(QlawStackFixture stack) : IAsyncLifetime
{
    private QlawApplication _app = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _app = await QlawApplication.StartAsync(stack);
        _client = _app.CreateClient();
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Posting_the_sample_workflow_returns_201_and_reading_it_back_returns_the_same_definition()
    {
        var posted = JsonNode.Parse(Samples.WorkflowJson("code-review"))!;

        var created = await _client.PostAsync("/v1/workflows", Json(posted));

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = JsonNode.Parse(await created.Content.ReadAsStringAsync())!;
        var id = body["id"]!.GetValue<string>();
        Assert.Equal($"/v1/workflows/{id}", created.Headers.Location?.OriginalString);
        Assert.True(JsonNode.DeepEquals(posted, body["config"]), body.ToJsonString());

        var read = JsonNode.Parse(await _client.GetStringAsync(created.Headers.Location))!;
        Assert.Equal("code-review", read["name"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(posted, read["config"]), read.ToJsonString());
    }

    [Fact]
    public async Task A_workflow_can_be_read_by_its_unique_name()
    {
        var id = await CreateAsync("by-name");

        var read = JsonNode.Parse(await _client.GetStringAsync("/v1/workflows/by-name"))!;

        Assert.Equal(id, read["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Listing_pages_through_workflows_in_creation_order_without_gaps_or_repeats()
    {
        string[] names = ["w1", "w2", "w3", "w4", "w5"];
        foreach (var name in names)
        {
            await CreateAsync(name);
        }

        var seen = new List<string>();
        string? after = null;
        var pages = 0;
        do
        {
            var page = JsonNode.Parse(await _client.GetStringAsync($"/v1/workflows?limit=2{(after is null ? "" : $"&after={after}")}"))!;
            var data = page["data"]!.AsArray();
            seen.AddRange(data.Select(w => w!["name"]!.GetValue<string>()));
            after = page["has_more"]!.GetValue<bool>() ? page["last_id"]!.GetValue<string>() : null;
            Assert.True(data.Count <= 2);
            pages++;
        }
        while (after is not null);

        Assert.Equal(names, seen);
        Assert.Equal(3, pages);
    }

    [Fact]
    public async Task A_workflows_runs_are_listed_in_pages_with_readable_status()
    {
        var workflowId = Guid.Parse(await CreateAsync("with-runs"));
        var otherId = Guid.Parse(await CreateAsync("other"));
        await using (var db = _app.CreateDbContext())
        {
            db.Runs.AddRange(
                Run(workflowId, RunStatus.Completed),
                Run(otherId, RunStatus.Running),
                Run(workflowId, RunStatus.AwaitingInput),
                Run(workflowId, RunStatus.Queued));
            await db.SaveChangesAsync();
            var stored = await db.Database.SqlQuery<string>($"SELECT status AS \"Value\" FROM runs ORDER BY id").ToListAsync();
            Assert.Equal(["completed", "running", "awaiting_input", "queued"], stored);
        }

        var first = JsonNode.Parse(await _client.GetStringAsync("/v1/workflows/with-runs/runs?limit=2"))!;
        var last = JsonNode.Parse(await _client.GetStringAsync($"/v1/workflows/{workflowId}/runs?limit=2&after={first["last_id"]}"))!;

        Assert.True(first["has_more"]!.GetValue<bool>());
        Assert.False(last["has_more"]!.GetValue<bool>());
        var statuses = first["data"]!.AsArray().Concat(last["data"]!.AsArray()).Select(r => r!["status"]!.GetValue<string>());
        Assert.Equal(["completed", "awaiting_input", "queued"], statuses);
        Assert.All(first["data"]!.AsArray(), r => Assert.Equal(workflowId.ToString(), r!["workflow_id"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_duplicate_name_is_409_problem_naming_the_name()
    {
        await CreateAsync("twice");

        var response = await _client.PostAsync("/v1/workflows", Json(Samples.Workflow(newName: "twice")));

        var problem = await ProblemAssert.IsProblem(response, HttpStatusCode.Conflict);
        Assert.Equal(["name"], ProblemAssert.Fields(problem));
    }

    private async Task<string> CreateAsync(string name)
    {
        var response = await _client.PostAsync("/v1/workflows", Json(Samples.Workflow(newName: name)));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    private static StringContent Json(JsonNode node) => new(node.ToJsonString(), Encoding.UTF8, "application/json");

    private static RunEntity Run(Guid workflowId, RunStatus status) => new()
    {
        Id = TimeOrderedId.New(),
        WorkflowId = workflowId,
        Status = status,
        Input = "task",
        CreatedAt = DateTimeOffset.UtcNow,
        UpdatedAt = DateTimeOffset.UtcNow,
    };
}
