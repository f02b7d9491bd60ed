using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Qlaw.Bench.Clients;

/// <summary>A LangGraph.js run as the server reports it: its status and when that status was set.</summary>
internal sealed record PeerRunStatus(string Status, DateTime UpdatedAt)
{
    public bool HasEnded => Status is not ("pending" or "running");
}

/// <summary>
/// The few LangGraph API calls the peer scenarios make (<c>/threads</c>, <c>/threads/{id}/runs</c>); the assistant is
/// the graph <see cref="Graph"/> of bench/peer/langgraph.json, or <see cref="PacedGraph"/>.
/// </summary>
internal sealed class LangGraphApi(HttpClient http)
{
    public const string Graph = "chain";

    /// <summary>Three nodes, each streaming a completion of the bench's paced OpenAI-compatible model (bench/peer/paced.mjs).</summary>
    public const string PacedGraph = "paced";

    public async Task<Guid> CreateThreadAsync(string batch, CancellationToken cancellationToken)
    {
        var body = await PostAsync("/threads", new JsonObject { ["metadata"] = new JsonObject { ["batch"] = batch } }, cancellationToken);
        return Guid.Parse(body["thread_id"]!.GetValue<string>());
    }

    /// <summary>
    /// <c>POST /threads/{id}/runs/stream</c> with <c>stream_mode: ["messages-tuple"]</c>: the run starts and its events
    /// stream in the answer, one <c>messages</c> event per model token.
    /// </summary>
    public async Task<SseReading> StreamRunAsync(Guid threadId, CancellationToken cancellationToken)
    {
        var run = Run(paceMs: 0, Graph);
        run["stream_mode"] = new JsonArray("messages-tuple");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/threads/{threadId}/runs/stream", UriKind.Relative)) { Content = Json(run) };
        return await SseReader.ReadAsync(http, request, SseVocabulary.LangGraph, cancellationToken);
    }

    /// <summary>
    /// Starts a background run of <paramref name="graph"/> (<see cref="Graph"/> when null; <c>POST /threads/{id}/runs</c>),
    /// each node of the chain waiting <paramref name="paceMs"/> first; returns its id.
    /// </summary>
    public async Task<Guid> StartRunAsync(Guid threadId, int paceMs, CancellationToken cancellationToken, string? graph = null)
    {
        var body = await PostAsync($"/threads/{threadId}/runs", Run(paceMs, graph ?? Graph), cancellationToken);
        return Guid.Parse(body["run_id"]!.GetValue<string>());
    }

    /// <summary>How many threads of <paramref name="batch"/> still have a run pending or running.</summary>
    public async Task<int> CountBusyAsync(string batch, CancellationToken cancellationToken)
    {
        var body = await PostAsync("/threads/count", new JsonObject { ["metadata"] = new JsonObject { ["batch"] = batch }, ["status"] = "busy" }, cancellationToken);
        return body.GetValue<int>();
    }

    /// <summary>The run's status, or null when the server does not know it (404).</summary>
    public async Task<PeerRunStatus?> GetRunAsync(Guid threadId, Guid runId, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(new Uri($"/threads/{threadId}/runs/{runId}", UriKind.Relative), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        var body = await ReadAsync(response, cancellationToken);
        return new PeerRunStatus(body["status"]!.GetValue<string>(), body["updated_at"]!.GetValue<DateTime>().ToUniversalTime());
    }

    private static JsonObject Run(int paceMs, string graph) => new()
    {
        ["assistant_id"] = graph,
        ["input"] = new JsonObject
        {
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "add two numbers" }),
            ["pace_ms"] = paceMs,
        },
    };

    private async Task<JsonNode> PostAsync(string path, JsonObject json, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsync(new Uri(path, UriKind.Relative), Json(json), cancellationToken);
        return await ReadAsync(response, cancellationToken);
    }

    private static async Task<JsonNode> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        return response.IsSuccessStatusCode && JsonNode.Parse(text) is { } body
            ? body
            : throw new BenchException($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}: {text}");
    }

    private static StringContent Json(JsonNode node) => new(node.ToJsonString(), Encoding.UTF8, "application/json");
}
