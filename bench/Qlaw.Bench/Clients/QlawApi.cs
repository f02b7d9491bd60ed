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

    /// <summary>
    /// Starts a run as a client that honours the server's limits does: a 429 (an active-run cap, a rate limit) is tried
    /// again after its <c>Retry-After</c>, until <paramref name="giveUp"/>. Returns the run's id (null when it gave up) and
    /// how many times it was refused.
    /// </summary>
    public async Task<(Guid? RunId, int Refused)> StartRunPatientlyAsync(string workflow, CancellationToken giveUp, CancellationToken cancellationToken)
    {
        for (var refused = 0; ; refused++)
        {
            var (status, runId, body, retryAfter) = await SendRunAsync(workflow, "add two numbers", null, cancellationToken);
            if (runId is not null)
            {
                return (runId, refused);
            }

            if (status != HttpStatusCode.TooManyRequests)
            {
                throw new BenchException($"Starting a run of {workflow} answered {(int)status}: {body}");
            }

            try
            {
                await Task.Delay(retryAfter ?? TimeSpan.FromSeconds(1), giveUp);
            }
            catch (OperationCanceledException) when (giveUp.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return (null, refused + 1);
            }
        }
    }

    /// <summary>POSTs a run, with an <c>Idempotency-Key</c> when given: the answer's status, body, and the run's id when accepted (202).</summary>
    public async Task<(HttpStatusCode Status, Guid? RunId, string Body)> PostRunAsync(
        string workflow, string input, string? idempotencyKey, CancellationToken cancellationToken)
    {
        var (status, runId, body, _) = await SendRunAsync(workflow, input, idempotencyKey, cancellationToken);
        return (status, runId, body);
    }

    private async Task<(HttpStatusCode Status, Guid? RunId, string Body, TimeSpan? RetryAfter)> SendRunAsync(
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
        return (response.StatusCode, response.StatusCode == HttpStatusCode.Accepted ? Guid.Parse(JsonNode.Parse(body)!["id"]!.GetValue<string>()) : null, body,
            response.Headers.RetryAfter?.Delta);
    }

    public async Task CancelAsync(Guid runId, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsync(new Uri($"/v1/runs/{runId}/cancel", UriKind.Relative), null, cancellationToken);
        if (!response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.Conflict)
        {
            throw new BenchException($"Cancelling run {runId} answered {(int)response.StatusCode}.");
        }
    }

    /// <summary>
    /// What the server says of a run that did not end in time, for the bench's failure message: its status and steps,
    /// and the types of its audit entries in order. Never throws: a server that does not answer says so.
    /// </summary>
    public async Task<string> DescribeAsync(Guid runId)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var status = JsonNode.Parse(await http.GetStringAsync(new Uri($"/v1/runs/{runId}/status", UriKind.Relative), timeout.Token))!;
            var steps = status["steps"]?.AsArray().Select(s => $"{s!["index"]}:{s["agent"]}#{s["attempt"]}={s["status"]}") ?? [];
            var audit = JsonNode.Parse(await http.GetStringAsync(new Uri($"/v1/runs/{runId}/audit?limit={Qlaw.Contracts.ListPage<object>.MaxLimit}", UriKind.Relative), timeout.Token))!;
            var entries = (audit["data"]?.AsArray() ?? []).Select(e => e!["type"]?.GetValue<string>());
            return $"status {status["status"]}, steps [{string.Join(", ", steps)}], audit [{string.Join(", ", entries)}]";
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or System.Text.Json.JsonException)
        {
            return $"the server did not describe it ({ex.GetType().Name})";
        }
    }

    private static StringContent Json(JsonNode node) => new(node.ToJsonString(), Encoding.UTF8, "application/json");
}

/// <summary>The benchmark cannot go on; the message says why.</summary>
internal sealed class BenchException(string message) : Exception(message);
