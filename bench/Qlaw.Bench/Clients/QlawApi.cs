using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Qlaw.Bench.Clients;

/// <summary>The few /v1 calls the scenarios make.</summary>
internal sealed class QlawApi(HttpClient http)
{
    public HttpClient Http => http;

    /// <summary>Creates a workflow; an existing one of that name (409) is fine.</summary>
    public async Task CreateWorkflowAsync(JsonObject workflow, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsync(new Uri("/v1/workflows", UriKind.Relative), Json(workflow), cancellationToken);
        if (response.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.Conflict))
        {
            throw new BenchException($"Creating workflow {workflow["name"]} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }
    }

    /// <summary>Starts a run (202) and returns its id.</summary>
    public async Task<Guid> StartRunAsync(string workflow, CancellationToken cancellationToken, string input = "add two numbers")
    {
        var (status, runId, body) = await PostRunAsync(workflow, input, null, cancellationToken);
        return runId ?? throw new BenchException($"Starting a run of {workflow} answered {(int)status}: {body}");
    }

    /// <summary>POSTs a run, with an <c>Idempotency-Key</c> when given: the answer's status, body, and the run's id when accepted (202).</summary>
    public async Task<(HttpStatusCode Status, Guid? RunId, string Body)> PostRunAsync(
        string workflow, string input, string? idempotencyKey, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/v1/workflows/{workflow}/runs", UriKind.Relative))
        {
            Content = Json(new JsonObject { ["input"] = input }),
        };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        return (response.StatusCode, response.StatusCode == HttpStatusCode.Accepted ? Guid.Parse(JsonNode.Parse(body)!["id"]!.GetValue<string>()) : null, body);
    }

    public async Task CancelAsync(Guid runId, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsync(new Uri($"/v1/runs/{runId}/cancel", UriKind.Relative), null, cancellationToken);
        if (!response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.Conflict)
        {
            throw new BenchException($"Cancelling run {runId} answered {(int)response.StatusCode}.");
        }
    }

    private static StringContent Json(JsonNode node) => new(node.ToJsonString(), Encoding.UTF8, "application/json");
}

/// <summary>The benchmark cannot go on; the message says why.</summary>
internal sealed class BenchException(string message) : Exception(message);
