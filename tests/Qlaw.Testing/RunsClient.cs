using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Qlaw.Testing;

/// <summary>Drives runs over HTTP the way a client would, and waits for their state.</summary>
public sealed class RunsClient(HttpClient http)
{
    public HttpClient Http => http;

    /// <summary>Creates a workflow from a JSON tree and returns its name.</summary>
    public async Task<string> CreateWorkflowAsync(JsonObject workflow)
    {
        var response = await http.PostAsync("/v1/workflows", Json(workflow));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return workflow["name"]!.GetValue<string>();
    }

    /// <summary>Starts a run and returns its id.</summary>
    public async Task<string> StartAsync(string workflow, string input = "add two numbers", string? idempotencyKey = null)
    {
        var response = await StartRawAsync(workflow, new JsonObject { ["input"] = input }, idempotencyKey);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
    }

    public Task<HttpResponseMessage> StartRawAsync(string workflow, JsonNode body, string? idempotencyKey = null) =>
        PostWithKeyAsync($"/v1/workflows/{workflow}/runs", body, idempotencyKey);

    /// <summary>Forks a run after <paramref name="fromStep"/> and returns the new run's id.</summary>
    public async Task<string> ForkAsync(string runId, int fromStep, string? input = null, string? idempotencyKey = null)
    {
        var response = await ForkRawAsync(runId, new JsonObject { ["from_step"] = fromStep, ["input"] = input }, idempotencyKey);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
    }

    public Task<HttpResponseMessage> ForkRawAsync(string runId, JsonNode body, string? idempotencyKey = null) =>
        PostWithKeyAsync($"/v1/runs/{runId}/fork", body, idempotencyKey);

    public Task<HttpResponseMessage> PostAsync(string runId, string action, JsonNode? body = null) =>
        http.PostAsync($"/v1/runs/{runId}/{action}", body is null ? null : Json(body));

    public async Task<JsonNode> StatusAsync(string runId) => JsonNode.Parse(await http.GetStringAsync($"/v1/runs/{runId}/status"))!;

    /// <summary>Polls the run's status until <paramref name="status"/> (a bound on waiting, not a timing assertion).</summary>
    public async Task<JsonNode> WaitForAsync(string runId, string status, int timeoutSeconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        JsonNode current;
        do
        {
            current = await StatusAsync(runId);
            if (current["status"]!.GetValue<string>() == status)
            {
                return current;
            }

            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);

        throw new Xunit.Sdk.XunitException($"Run {runId} did not reach '{status}' within {timeoutSeconds} s: {current.ToJsonString()}");
    }

    /// <summary>Every audit entry of the run, following pages.</summary>
    public async Task<List<JsonNode>> AuditAsync(string runId)
    {
        var entries = new List<JsonNode>();
        string after = "";
        while (true)
        {
            var page = JsonNode.Parse(await http.GetStringAsync($"/v1/runs/{runId}/audit?limit=50{after}"))!;
            entries.AddRange(page["data"]!.AsArray().Select(e => e!));
            if (!page["has_more"]!.GetValue<bool>())
            {
                return entries;
            }

            after = $"&after={page["last_id"]}";
        }
    }

    /// <summary>(agent, status, attempt) of every step attempt, in order.</summary>
    public static List<string> Steps(JsonNode status) =>
        [.. status["steps"]!.AsArray().Select(s => $"{s!["agent"]}:{s["status"]}:{s["attempt"]}")];

    private Task<HttpResponseMessage> PostWithKeyAsync(string path, JsonNode body, string? idempotencyKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(body) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return http.SendAsync(request);
    }

    public static StringContent Json(JsonNode node) => new(node.ToJsonString(), Encoding.UTF8, "application/json");
}
