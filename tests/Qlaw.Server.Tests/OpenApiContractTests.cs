using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Qlaw.AppHost.LocalStack;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// The OpenAPI document tells the truth: every answer of every route, successes and errors, met while driving runs
/// through the API is described by the served document (status, content type, body schema), and the served document
/// is the one kept in docs/openapi.json, so that a change to the API is a reviewed change.
/// </summary>
[Collection(QlawStackCollections.Api)]
public sealed class OpenApiContractTests(QlawStackFixture stack) : ResponsesServerTests(stack)
{
    private const string WriteVariable = "QLAW_WRITE_OPENAPI";

    [Fact]
    public async Task The_served_document_is_the_one_kept_in_docs_openapi_json()
    {
        var served = JsonNode.Parse(await Runs.Http.GetStringAsync("/openapi/v1.json"))!.AsObject();
        served.Remove("servers"); // the address this test's server listens on
        var text = served.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        var kept = Path.Combine(RepositoryRoot.Find(), "docs", "openapi.json");
        if (Environment.GetEnvironmentVariable(WriteVariable) == "1")
        {
            await File.WriteAllTextAsync(kept, text);
        }

        Assert.True(
            File.Exists(kept) && await File.ReadAllTextAsync(kept) == text,
            $"The served OpenAPI document differs from docs/openapi.json: review the change, then keep it with {WriteVariable}=1 dotnet test --filter {nameof(The_served_document_is_the_one_kept_in_docs_openapi_json)}.");
    }

    [Fact]
    public async Task Every_answer_met_driving_runs_through_every_route_is_described_by_the_document()
    {
        var api = await OpenApiContract.LoadAsync(Runs.Http);
        var http = Runs.Http;

        // Workflows.
        var (status, created) = await api.SendAsync(http, "POST /v1/workflows", "/v1/workflows", Samples.Workflow(newName: "contract"));
        Assert.Equal(HttpStatusCode.Created, status);
        var workflowId = created!["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.Conflict, (await api.SendAsync(http, "POST /v1/workflows", "/v1/workflows", Samples.Workflow(newName: "contract"))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.SendAsync(http, "POST /v1/workflows", "/v1/workflows", new JsonObject { ["name"] = "" })).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(http, "GET /v1/workflows", "/v1/workflows?limit=2")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.SendAsync(http, "GET /v1/workflows", "/v1/workflows?limit=0")).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(http, "GET /v1/workflows/{id}", $"/v1/workflows/{workflowId}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.SendAsync(http, "GET /v1/workflows/{id}", "/v1/workflows/nope")).Status);

        // A run to its end: start, status, steps, audit, its stream, a fork.
        var (accepted, run) = await api.SendAsync(http, "POST /v1/workflows/{id}/runs", "/v1/workflows/contract/runs", new JsonObject { ["input"] = "add two numbers" });
        Assert.Equal(HttpStatusCode.Accepted, accepted);
        var runId = run!["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.NotFound, (await api.SendAsync(http, "POST /v1/workflows/{id}/runs", "/v1/workflows/nope/runs", new JsonObject { ["input"] = "x" })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.SendAsync(http, "POST /v1/workflows/{id}/runs", "/v1/workflows/contract/runs", new JsonObject { ["input"] = 5 })).Status);
        await Runs.WaitForAsync(runId, "completed");
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(http, "GET /v1/runs/{id}/status", $"/v1/runs/{runId}/status")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.SendAsync(http, "GET /v1/runs/{id}/status", $"/v1/runs/{Guid.NewGuid()}/status")).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(http, "GET /v1/runs/{id}/steps", $"/v1/runs/{runId}/steps?limit=2")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.SendAsync(http, "GET /v1/runs/{id}/steps", $"/v1/runs/{runId}/steps?limit=0")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.SendAsync(http, "GET /v1/runs/{id}/steps", "/v1/runs/x/steps")).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(http, "GET /v1/runs/{id}/audit", $"/v1/runs/{runId}/audit")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.SendAsync(http, "GET /v1/runs/{id}/audit", "/v1/runs/x/audit")).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(http, "GET /v1/runs", "/v1/runs?limit=5")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.SendAsync(http, "GET /v1/runs", "/v1/runs?status=nope")).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(http, "GET /v1/workflows/{id}/runs", "/v1/workflows/contract/runs")).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(http, "GET /v1/runs/{id}/responses", $"/v1/runs/{runId}/responses")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.SendAsync(http, "GET /v1/runs/{id}/responses", $"/v1/runs/{runId}/responses?starting_after=-5")).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await api.SendAsync(http, "POST /v1/runs/{id}/cancel", $"/v1/runs/{runId}/cancel")).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await api.SendAsync(http, "POST /v1/runs/{id}/handoff", $"/v1/runs/{runId}/handoff", new JsonObject { ["to_agent"] = "coder" })).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await api.SendAsync(http, "POST /v1/runs/{id}/continue", $"/v1/runs/{runId}/continue")).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await api.SendAsync(http, "POST /v1/runs/{id}/fork", $"/v1/runs/{runId}/fork", new JsonObject { ["from_step"] = 1 })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.SendAsync(http, "POST /v1/runs/{id}/fork", $"/v1/runs/{runId}/fork", new JsonObject { ["from_step"] = 99 })).Status);
        var key = new Dictionary<string, string> { ["Idempotency-Key"] = "contract-1" };
        await api.SendAsync(http, "POST /v1/runs/{id}/fork", $"/v1/runs/{runId}/fork", new JsonObject { ["from_step"] = 1 }, key);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await api.SendAsync(http, "POST /v1/runs/{id}/fork", $"/v1/runs/{runId}/fork", new JsonObject { ["from_step"] = 2 }, key)).Status);

        // A run that asks: handoff and continue while it waits, then a cancel.
        var (_, asking) = await api.SendAsync(http, "POST /v1/workflows/{id}/runs", "/v1/workflows/hil/runs", new JsonObject { ["input"] = "my order is late" });
        var askingId = asking!["id"]!.GetValue<string>();
        await Runs.WaitForAsync(askingId, "awaiting_input");
        Assert.Equal(HttpStatusCode.BadRequest, (await api.SendAsync(http, "POST /v1/runs/{id}/handoff", $"/v1/runs/{askingId}/handoff", new JsonObject { ["to_agent"] = "" })).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await api.SendAsync(http, "POST /v1/runs/{id}/handoff", $"/v1/runs/{askingId}/handoff", new JsonObject { ["to_agent"] = "coder" })).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await api.SendAsync(http, "POST /v1/runs/{id}/continue", $"/v1/runs/{askingId}/continue", new JsonObject { ["input"] = "ORD-1" })).Status);
        var (_, again) = await api.SendAsync(http, "POST /v1/workflows/{id}/runs", "/v1/workflows/hil/runs", new JsonObject { ["input"] = "another order" });
        var againId = again!["id"]!.GetValue<string>();
        await Runs.WaitForAsync(againId, "awaiting_input");
        Assert.Equal(HttpStatusCode.Accepted, (await api.SendAsync(http, "POST /v1/runs/{id}/cancel", $"/v1/runs/{againId}/cancel")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.SendAsync(http, "POST /v1/runs/{id}/cancel", $"/v1/runs/{Guid.NewGuid()}/cancel")).Status);

        // The Responses surface.
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(http, "POST /v1/responses", "/v1/responses", new JsonObject { ["model"] = "code-review", ["input"] = "x", ["stream"] = true })).Status);
        var (_, response) = await api.SendAsync(http, "POST /v1/responses", "/v1/responses", new JsonObject { ["model"] = "code-review", ["input"] = "x" });
        var responseId = response!["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.NotFound, (await api.SendAsync(http, "POST /v1/responses", "/v1/responses", new JsonObject { ["model"] = "nope", ["input"] = "x" })).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.SendAsync(http, "POST /v1/responses", "/v1/responses", new JsonObject { ["model"] = "code-review", ["input"] = "x", ["store"] = false })).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(http, "GET /v1/responses/{id}", $"/v1/responses/{responseId}")).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(http, "GET /v1/responses/{id}", $"/v1/responses/{responseId}?stream=true&starting_after=3")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.SendAsync(http, "GET /v1/responses/{id}", $"/v1/responses/{responseId}?stream=true&starting_after=-4")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.SendAsync(http, "GET /v1/responses/{id}", "/v1/responses/resp_nope")).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await api.SendAsync(http, "POST /v1/responses/{id}/cancel", $"/v1/responses/{responseId}/cancel")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.SendAsync(http, "POST /v1/responses/{id}/cancel", "/v1/responses/resp_nope/cancel")).Status);
        var (_, waiting) = await api.SendAsync(http, "POST /v1/responses", "/v1/responses", new JsonObject { ["model"] = "hil", ["input"] = "late", ["background"] = true });
        var waitingId = waiting!["id"]!.GetValue<string>();
        await Runs.WaitForAsync(waiting["run_id"]!.GetValue<string>(), "awaiting_input");
        Assert.Equal(HttpStatusCode.Conflict, (await api.SendAsync(http, "DELETE /v1/responses/{id}", $"/v1/responses/{waitingId}")).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(http, "POST /v1/workflows/{id}/send_responses", "/v1/workflows/hil/send_responses", new JsonObject { ["input"] = "ORD-2", ["stream"] = false })).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await api.SendAsync(http, "POST /v1/workflows/{id}/send_responses", "/v1/workflows/hil/send_responses", new JsonObject { ["input"] = "ORD-3" })).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(http, "POST /v1/responses/{id}/cancel", $"/v1/responses/{(await StartWaitingAsync(api, http))}/cancel")).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(http, "DELETE /v1/responses/{id}", $"/v1/responses/{responseId}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.SendAsync(http, "DELETE /v1/responses/{id}", $"/v1/responses/{responseId}")).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(http, "GET /v1/agents", "/v1/agents")).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(http, "GET /v1/agents", "/v1/agents?limit=1")).Status);

        // Deleting a workflow: not while it has runs that have not ended; then gone.
        var (_, busy) = await api.SendAsync(http, "POST /v1/workflows/{id}/runs", "/v1/workflows/hil/runs", new JsonObject { ["input"] = "x" });
        Assert.Equal(HttpStatusCode.Conflict, (await api.SendAsync(http, "DELETE /v1/workflows/{id}", "/v1/workflows/hil")).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await api.SendAsync(http, "DELETE /v1/workflows/{id}", $"/v1/workflows/{workflowId}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.SendAsync(http, "DELETE /v1/workflows/{id}", $"/v1/workflows/{workflowId}")).Status);
        Assert.NotNull(busy);

        // Every route of the document was met.
        var unmet = api.Routes.Where(route => !api.Checked.Any(c => c.StartsWith(route + " ", StringComparison.Ordinal))).ToList();
        Assert.True(unmet.Count == 0, $"Not driven: {string.Join(", ", unmet)}");
    }

    private async Task<string> StartWaitingAsync(OpenApiContract api, HttpClient http)
    {
        var (_, waiting) = await api.SendAsync(http, "POST /v1/responses", "/v1/responses", new JsonObject { ["model"] = "hil", ["input"] = "late again", ["background"] = true });
        await Runs.WaitForAsync(waiting!["run_id"]!.GetValue<string>(), "awaiting_input");
        return waiting["id"]!.GetValue<string>();
    }
}
