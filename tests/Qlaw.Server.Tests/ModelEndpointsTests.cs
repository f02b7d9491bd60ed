using System.Net;
using System.Text.Json.Nodes;
using Qlaw.Data.Workflows;
using Qlaw.FakeModel;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>Model endpoints are server settings: a workflow picks one, and a key only ever reaches its own endpoint.</summary>
[Collection(QlawStackCollections.Streams)]
public sealed class ModelEndpointsTests(QlawStackFixture stack) : IAsyncLifetime
{
    private const string LocalKey = "sk-local-secret";
    private const string AzureKey = "azure-local-secret";
    private QlawApplication _app = null!;
    private RunsClient _runs = null!;
    private FakeOpenAIServer _configured = null!;
    private FakeOpenAIServer _other = null!;
    private FakeOpenAIServer _azure = null!;

    public async Task InitializeAsync()
    {
        _configured = await FakeOpenAIServer.StartAsync();
        _other = await FakeOpenAIServer.StartAsync();
        _azure = await FakeOpenAIServer.StartAsync();
        _app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["Models:OpenAI:ApiKey"] = "sk-default-secret",
            ["Models:Endpoints:local:BaseUrl"] = _configured.BaseUrl.ToString(),
            ["Models:Endpoints:local:ApiKey"] = LocalKey,
            ["Models:Endpoints:local:AllowedModels:0"] = "fake-planner",
            ["Models:Endpoints:local:DefaultModel"] = "fake-planner",
            ["Models:Endpoints:azure:BaseUrl"] = _azure.BaseUrl.ToString(),
            ["Models:Endpoints:azure:ApiKey"] = AzureKey,
            ["Models:Endpoints:azure:Header"] = "ApiKey",
            ["Models:Endpoints:azure:DefaultModel"] = "fake-deployment",
            ["Streaming:DeltaWindowMs"] = "0",
        });
        _runs = new RunsClient(_app.CreateClient());
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _configured.DisposeAsync();
        await _other.DisposeAsync();
        await _azure.DisposeAsync();
    }

    [Fact]
    public async Task A_workflow_pointing_at_an_unconfigured_url_is_refused_and_that_server_receives_nothing()
    {
        var response = await _runs.Http.PostAsync("/v1/workflows", RunsClient.Json(Planner("exfiltrate", new JsonObject { ["base_url"] = _other.BaseUrl.ToString() })));

        var problem = await ProblemAssert.IsProblem(response, HttpStatusCode.BadRequest);
        Assert.Equal(["agents[0].model.base_url"], ProblemAssert.Fields(problem));
        Assert.DoesNotContain("secret", problem.GetRawText(), StringComparison.Ordinal);
        Assert.Empty(_other.Requests);
    }

    [Fact]
    public async Task An_unknown_endpoint_name_or_a_model_the_endpoint_does_not_allow_is_refused_naming_the_field()
    {
        var unknown = await _runs.Http.PostAsync("/v1/workflows", RunsClient.Json(Planner("unknown", new JsonObject { ["endpoint"] = "elsewhere" })));
        var disallowed = await _runs.Http.PostAsync("/v1/workflows", RunsClient.Json(Planner("disallowed", new JsonObject { ["endpoint"] = "local", ["model"] = "gpt-huge" })));
        var shared = Planner("shared", new JsonObject { ["endpoint"] = "local" });
        shared["model"] = new JsonObject { ["base_url"] = _other.BaseUrl.ToString() };
        var sharedUrl = await _runs.Http.PostAsync("/v1/workflows", RunsClient.Json(shared));

        Assert.Equal(["agents[0].model.endpoint"], ProblemAssert.Fields(await ProblemAssert.IsProblem(unknown, HttpStatusCode.BadRequest)));
        Assert.Equal(["agents[0].model.model"], ProblemAssert.Fields(await ProblemAssert.IsProblem(disallowed, HttpStatusCode.BadRequest)));
        Assert.Contains("model.base_url", ProblemAssert.Fields(await ProblemAssert.IsProblem(sharedUrl, HttpStatusCode.BadRequest)));
    }

    [Fact]
    public async Task A_workflow_naming_a_configured_endpoint_runs_against_it_with_that_endpoints_key()
    {
        await _runs.CreateWorkflowAsync(Planner("by-name", new JsonObject { ["endpoint"] = "local" }));
        _configured.ReplyWith(["Plan."], "handoff_to_coder");

        await _runs.WaitForAsync(await _runs.StartAsync("by-name"), "completed");

        var (authorization, body) = Assert.Single(_configured.Requests);
        Assert.Equal($"Bearer {LocalKey}", authorization);
        Assert.Equal("fake-planner", body["model"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_endpoint_keyed_by_header_sends_its_key_as_api_key_and_no_bearer_token()
    {
        await _runs.CreateWorkflowAsync(Planner("by-api-key", new JsonObject { ["endpoint"] = "azure" }));
        _azure.ReplyWith(["Plan."], "handoff_to_coder");

        await _runs.WaitForAsync(await _runs.StartAsync("by-api-key"), "completed");

        var request = Assert.Single(_azure.Requests);
        Assert.Equal(AzureKey, request.ApiKey);
        Assert.Equal("", request.Authorization);
        Assert.Equal("fake-deployment", request.Body["model"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_base_url_equal_to_a_configured_endpoints_selects_that_endpoint()
    {
        await _runs.CreateWorkflowAsync(Planner("by-url", new JsonObject { ["base_url"] = _configured.BaseUrl + "/" }));
        _configured.ReplyWith(["Plan."], "handoff_to_coder");

        await _runs.WaitForAsync(await _runs.StartAsync("by-url"), "completed");

        Assert.Equal($"Bearer {LocalKey}", Assert.Single(_configured.Requests).Authorization);
    }

    [Fact]
    public async Task A_stored_workflow_whose_url_is_not_configured_fails_its_turn_without_calling_out()
    {
        // A workflow stored before its endpoint was removed from the settings: the turn checks the endpoint again.
        var definition = Planner("stale", new JsonObject { ["base_url"] = _other.BaseUrl.ToString() });
        await using (var db = _app.CreateDbContext())
        {
            db.Workflows.Add(new WorkflowEntity { Id = Guid.CreateVersion7(), Name = "stale", Config = definition.ToJsonString(), CreatedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }

        var status = await _runs.WaitForAsync(await _runs.StartAsync("stale"), "failed");

        Assert.Contains("model.base_url", status["last_error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(_other.Requests);
        Assert.Empty(_configured.Requests);
    }

    private static JsonObject Planner(string name, JsonObject model)
    {
        var workflow = Samples.Workflow(newName: name);
        model["provider"] = "openai";
        workflow["agents"]![0]!["model"] = model;
        return workflow;
    }
}
