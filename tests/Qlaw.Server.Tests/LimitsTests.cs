using System.Net;
using System.Text.Json.Nodes;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>Server ceilings a workflow cannot exceed, and the caps on active runs.</summary>
[Collection(QlawStackCollections.Api)]
public sealed class LimitsTests(LimitsTests.Server server) : IClassFixture<LimitsTests.Server>
{
    private readonly RunsClient _runs = new(server.App.CreateClient());

    /// <summary>
    /// The server the tests of the class share: each names its own workflow, and only the test of the cap starts runs.
    /// </summary>
    public sealed class Server() : ClassServer(new Dictionary<string, string?>
    {
        ["Limits:MaxSteps"] = "50",
        ["Limits:MaxOutputTokens"] = "4096",
        ["Limits:MaxAttempts"] = "5",
        ["Limits:MaxTotalTokens"] = "100000",
        ["Limits:MaxActiveRunsPerClient"] = "2",
        ["Limits:ActiveRunsRetryAfterSeconds"] = "7",
    });

    [Fact]
    public async Task A_workflow_over_a_server_ceiling_is_refused_naming_each_field()
    {
        var workflow = Samples.Workflow(newName: "greedy");
        workflow["limits"] = new JsonObject { ["max_steps"] = 1000, ["max_total_tokens"] = 100_001 };
        workflow["retry"] = new JsonObject { ["max_attempts"] = 20 };
        workflow["model"] = new JsonObject { ["max_output_tokens"] = 200_000 };
        workflow["agents"]![1]!["model"] = new JsonObject { ["max_output_tokens"] = 4097 };

        var problem = await ProblemAssert.IsProblem(await _runs.Http.PostAsync("/v1/workflows", RunsClient.Json(workflow)), HttpStatusCode.BadRequest);

        Assert.Equal(
            ["agents[1].model.max_output_tokens", "limits.max_steps", "limits.max_total_tokens", "model.max_output_tokens", "retry.max_attempts"],
            ProblemAssert.Fields(problem));
        Assert.Contains("Limits:MaxSteps", problem.GetProperty("errors").GetProperty("limits.max_steps")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_first_retry_wait_longer_than_the_longest_is_refused_naming_it()
    {
        var workflow = Samples.Workflow(newName: "slow-retry");
        workflow["retry"] = new JsonObject { ["first_interval_ms"] = 60_000, ["max_interval_ms"] = 30_000 };

        var problem = await ProblemAssert.IsProblem(await _runs.Http.PostAsync("/v1/workflows", RunsClient.Json(workflow)), HttpStatusCode.BadRequest);

        Assert.Equal(["retry.first_interval_ms"], ProblemAssert.Fields(problem));
    }

    [Fact]
    public async Task A_workflow_at_the_ceilings_is_accepted()
    {
        var workflow = Samples.Workflow(newName: "at-ceiling");
        workflow["limits"] = new JsonObject { ["max_steps"] = 50, ["max_total_tokens"] = 100_000 };
        workflow["retry"] = new JsonObject { ["max_attempts"] = 5 };
        workflow["model"] = new JsonObject { ["max_output_tokens"] = 4096 };

        await _runs.CreateWorkflowAsync(workflow);
    }

    [Fact]
    public async Task A_client_at_its_cap_of_active_runs_gets_429_with_retry_after_on_both_run_routes_until_one_ends()
    {
        var workflow = Samples.Workflow(newName: "waits");
        workflow["agents"]![0]!["script"] = new JsonArray(new JsonObject { ["say"] = "Which order?", ["call"] = "request_input", ["prompt"] = "Order number?" });
        await _runs.CreateWorkflowAsync(workflow);
        var first = await _runs.StartAsync("waits");
        await _runs.StartAsync("waits");

        var refused = await _runs.StartRawAsync("waits", new JsonObject { ["input"] = "third" });
        var refusedResponse = await _runs.Http.PostAsync("/v1/responses", RunsClient.Json(new JsonObject { ["model"] = "waits", ["input"] = "third" }));

        var problem = await ProblemAssert.IsProblem(refused, HttpStatusCode.TooManyRequests);
        Assert.Contains("Limits:MaxActiveRunsPerClient", problem.GetProperty("title").GetString(), StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(7), refused.Headers.RetryAfter?.Delta);
        await ProblemAssert.IsProblem(refusedResponse, HttpStatusCode.TooManyRequests);
        Assert.NotNull(refusedResponse.Headers.RetryAfter);

        // A cancelled run is no longer active: its slot is free again.
        await _runs.WaitForAsync(first, "awaiting_input");
        Assert.Equal(HttpStatusCode.Accepted, (await _runs.PostAsync(first, "cancel")).StatusCode);
        await _runs.StartAsync("waits");
    }
}
