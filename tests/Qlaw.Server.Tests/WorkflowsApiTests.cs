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

    [Theory]
    [InlineData("no-such-workflow")]
    [InlineData("3f2c7a51-0000-4000-8000-000000000000")]
    public async Task An_unknown_workflow_is_404_problem(string idOrName)
    {
        await ProblemAssert.IsProblem(await _client.GetAsync($"/v1/workflows/{idOrName}"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblem(await _client.GetAsync($"/v1/workflows/{idOrName}/runs"), HttpStatusCode.NotFound);
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

    public static TheoryData<string, string[]> InvalidWorkflows => new()
    {
        { """{"name":"x","start_agent":"a","agents":[{"name":"a","role":"wizard"}]}""", ["agents[0].role"] },
        { """{"name":"x","start_agent":"a","agents":[{"name":"a","role":"coder","handoffs":["b"]}]}""", ["agents[0].handoffs[0]"] },
        { """{"name":"x","start_agent":"a","agents":[{"name":"a","role":"coder"},{"name":"b","role":"judge","consults":["zz"],"default_next":"b"}]}""", ["agents[1].consults[0]", "agents[1].default_next"] },
        { """{"name":"x","agents":[{"name":"a","role":"coder"}]}""", ["start_agent"] },
        { """{"name":"x","start_agent":"ghost","agents":[{"name":"a","role":"coder"}]}""", ["start_agent"] },
        { """{"name":"x","start_agent":"a","agents":[{"name":"a","role":"coder"}],"limits":{"max_steps":0,"max_returns":-1}}""", ["limits.max_returns", "limits.max_steps"] },
        { """{"name":"x","start_agent":"a","agents":[{"name":"a","role":"coder"},{"name":"a","role":"judge"}]}""", ["agents[1].name"] },
        { """{"name":"bad name!","start_agent":"a","agents":[{"name":"A-1","role":"coder"}]}""", ["agents[0].name", "name"] },
        { """{"name":"x","start_agent":"a","agents":[]}""", ["agents"] },
        { """{"name":"x","start_agent":"a","agents":[{"name":"a"}]}""", ["agents[0].role"] },
        { """{"name":"x","start_agent":"a","agents":"planner"}""", ["agents"] },
        { """{"name":"x","start_agent":"a","agents":[{"name":"a","role":"coder","model":{"temperature":7}}]}""", ["agents[0].model.temperature"] },
        { """{"name":""", ["name"] },
    };

    [Theory]
    [MemberData(nameof(InvalidWorkflows))]
    public async Task An_invalid_workflow_is_400_problem_naming_each_bad_field(string body, string[] fields)
    {
        var response = await _client.PostAsync("/v1/workflows", new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await ProblemAssert.IsProblem(response, HttpStatusCode.BadRequest);
        Assert.Equal(fields, ProblemAssert.Fields(problem));
        await using var db = _app.CreateDbContext();
        Assert.Equal(0, await db.Workflows.CountAsync());
    }

    [Fact]
    public async Task A_duplicate_name_is_409_problem_naming_the_name()
    {
        await CreateAsync("twice");

        var response = await _client.PostAsync("/v1/workflows", Json(Samples.Workflow(newName: "twice")));

        var problem = await ProblemAssert.IsProblem(response, HttpStatusCode.Conflict);
        Assert.Equal(["name"], ProblemAssert.Fields(problem));
    }

    [Fact]
    public async Task An_oversized_body_is_413_problem()
    {
        var workflow = Samples.Workflow(newName: "huge");
        workflow["description"] = new string('x', 2 * 1024 * 1024);

        var response = await _client.PostAsync("/v1/workflows", Json(workflow));

        var problem = await ProblemAssert.IsProblem(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(["body"], ProblemAssert.Fields(problem));
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_415_problem()
    {
        var response = await _client.PostAsync("/v1/workflows", new StringContent("name=x", Encoding.UTF8, "text/plain"));

        await ProblemAssert.IsProblem(response, HttpStatusCode.UnsupportedMediaType);
    }

    [Theory]
    [InlineData("/v1/workflows?limit=0", "limit")]
    [InlineData("/v1/workflows?limit=101", "limit")]
    [InlineData("/v1/workflows?after=not-an-id", "after")]
    [InlineData("/v1/workflows/code-review/runs?limit=1000", "limit")]
    public async Task Bad_paging_parameters_are_400_problem_naming_the_parameter(string url, string field)
    {
        var problem = await ProblemAssert.IsProblem(await _client.GetAsync(url), HttpStatusCode.BadRequest);

        Assert.Equal([field], ProblemAssert.Fields(problem));
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
