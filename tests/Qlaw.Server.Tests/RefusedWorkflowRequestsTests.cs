using System.Net;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// Requests to the workflow routes that are refused. The tests share one server: none of them sends anything that may
/// be stored, so whichever runs first, an invalid workflow's test still finds the database holding no workflow at all.
/// </summary>
[Collection(QlawStackCollections.Api)]
public sealed class RefusedWorkflowRequestsTests(RefusedWorkflowRequestsTests.Server server) : IClassFixture<RefusedWorkflowRequestsTests.Server>
{
    private readonly QlawApplication _app = server.App;
    private readonly HttpClient _client = server.App.CreateClient();

    /// <summary>The server the tests of the class share.</summary>
    public sealed class Server : ClassServer;

    [Theory]
    [InlineData("no-such-workflow")]
    [InlineData("3f2c7a51-0000-4000-8000-000000000000")]
    public async Task An_unknown_workflow_is_404_problem(string idOrName)
    {
        await ProblemAssert.IsProblem(await _client.GetAsync($"/v1/workflows/{idOrName}"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblem(await _client.GetAsync($"/v1/workflows/{idOrName}/runs"), HttpStatusCode.NotFound);
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
        { """{"name":"x","start_agent":"a","agents":[null]}""", ["agents[0]", "start_agent"] },
        { """{"name":"x","start_agent":"a","agents":[{"name":"a","role":"coder","tools":[null],"handoffs":[null]}]}""", ["agents[0].handoffs[0]", "agents[0].tools[0]"] },
        { """{"name":"x","start_agent":"a","agents":[{"name":"a","role":"coder","script":[null,{"say":"x","tool_calls":[null]}]}]}""", ["agents[0].script[0]", "agents[0].script[1].tool_calls[0]"] },
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
    public async Task An_oversized_body_is_413_problem()
    {
        var workflow = Samples.Workflow(newName: "huge");
        workflow["description"] = new string('x', 2 * 1024 * 1024);

        var response = await _client.PostAsync("/v1/workflows", RunsClient.Json(workflow));

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
}
