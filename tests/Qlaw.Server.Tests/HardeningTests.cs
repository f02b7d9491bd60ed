using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Qlaw.Api.Http;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// Hostile input and heavy clients: malformed requests of every kind get 4xx problem+json with no internals, a flood
/// from one client is limited without starving others, streams per client are capped, headers harden browsers.
/// </summary>
[Collection(QlawStackCollections.LateTimings)]
public sealed class HardeningTests(QlawStackFixture stack)
{
    private static readonly string[] Internals =
        ["Exception", "   at ", "Npgsql", "Host=", "Password", "/work/", "/tmp/", "System.", "SELECT ", "INSERT ", "DevelopmentStorage", "AccountKey"];

    [Fact]
    public async Task Thousands_of_malformed_requests_to_every_endpoint_get_4xx_problem_json_and_never_a_5xx_or_internals()
    {
        await using var app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?> { ["RateLimits:Enabled"] = "false" });
        var runs = new RunsClient(app.CreateClient());
        var workflow = Samples.Workflow(newName: "fuzz");
        workflow["agents"]![0]!["script"] = new JsonArray(new JsonObject { ["say"] = "Waiting", ["call"] = "request_input" });
        await runs.CreateWorkflowAsync(workflow);
        var runId = await runs.StartAsync("fuzz");
        await runs.WaitForAsync(runId, "awaiting_input");

        string[] ids = ["fuzz", runId, "", "%01", "..%2F..%2Fetc%2Fpasswd", new string('a', 5000), "%F0%9F%92%A5", "%ED%A0%80", "'%20OR%201=1--",
            "00000000-0000-0000-0000-000000000000", "-1", "%E2%80%AE", "null", "%7B%7D", "a%0Ab"];
        var bodies = Bodies().ToList();
        var requests = new List<(HttpMethod Method, string Path, Body? Body, (string, string)? Header)>();
        foreach (var id in ids)
        {
            foreach (var body in bodies)
            {
                requests.Add((HttpMethod.Post, $"/v1/workflows/{id}/runs", body, ("Idempotency-Key", body.Name.Length % 2 == 0 ? new string('k', 3000) : "%%%")));
                requests.Add((HttpMethod.Post, $"/v1/runs/{id}/continue", body, null));
                requests.Add((HttpMethod.Post, $"/v1/runs/{id}/handoff", body, null));
                requests.Add((HttpMethod.Post, $"/v1/workflows/{id}/send_responses", body, null));
            }

            foreach (var query in new[] { "", "?limit=0", "?limit=abc", "?limit=99999999999", "?after=xyz", "?after=-1", "?starting_after=-5", "?starting_after=1e99", "?limit=%00" })
            {
                requests.Add((HttpMethod.Get, $"/v1/workflows/{id}{query}", null, null));
                requests.Add((HttpMethod.Get, $"/v1/workflows/{id}/runs{query}", null, null));
                requests.Add((HttpMethod.Get, $"/v1/runs/{id}/status{query}", null, null));
                requests.Add((HttpMethod.Get, $"/v1/runs/{id}/audit{query}", null, null));
                requests.Add((HttpMethod.Get, $"/v1/runs/{id}/responses{query}", null, ("Last-Event-ID", "x-1")));
            }
        }

        foreach (var body in bodies)
        {
            requests.Add((HttpMethod.Post, "/v1/workflows", body, null));
            requests.Add((HttpMethod.Post, "/v1/responses", body, null));
        }

        foreach (var query in new[] { "?limit=-1", "?after=%FF", "?project_endpoint=" + new string('x', 4000) })
        {
            requests.Add((HttpMethod.Get, $"/v1/workflows{query}", null, null));
            requests.Add((HttpMethod.Get, $"/v1/agents{query}", null, null));
        }

        // A NUL in the path is refused by Kestrel itself, before any application code: a bare 400 with no body.
        var nul = await runs.Http.GetAsync("/v1/runs/%00/status");
        Assert.Equal(HttpStatusCode.BadRequest, nul.StatusCode);
        Assert.Empty(await nul.Content.ReadAsByteArrayAsync());

        var http = runs.Http;
        var failures = new List<string>();
        var statuses = new List<int>();
        using var gate = new SemaphoreSlim(8);
        await Task.WhenAll(requests.Select(async r =>
        {
            await gate.WaitAsync();
            try
            {
                var (status, problem) = await SendAsync(http, r.Method, r.Path, r.Body, r.Header);
                lock (failures)
                {
                    statuses.Add(status);
                    if (problem is not null)
                    {
                        failures.Add($"{r.Method} {r.Path[..Math.Min(r.Path.Length, 80)]} [{r.Body?.Name}] → {status}: {problem}");
                    }
                }
            }
            finally
            {
                gate.Release();
            }
        }));

        Assert.True(requests.Count >= 2000, $"only {requests.Count} requests");
        Assert.True(failures.Count == 0, string.Join('\n', failures.Take(30)));
        Assert.DoesNotContain(statuses, s => s >= 500);
        Assert.True(statuses.Count(s => s >= 400) > requests.Count * 9 / 10);

        // The service is still healthy and the waiting run untouched by all of it except the commands that were valid.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public async Task A_flood_from_one_client_is_limited_while_other_clients_and_run_creation_keep_their_own_budgets()
    {
        await using var app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["RateLimits:Requests:Burst"] = "10",
            ["RateLimits:Requests:PermitsPerSecond"] = "1",
            ["RateLimits:RunCreation:Burst"] = "3",
            ["RateLimits:RunCreation:PermitsPerSecond"] = "1",
        });
        var baseAddress = app.CreateClient().BaseAddress!;
        using var flooder = LoopbackClient.Create(baseAddress, "127.0.0.2");
        using var neighbour = LoopbackClient.Create(baseAddress, "127.0.0.3");
        await new RunsClient(LoopbackClient.Create(baseAddress, "127.0.0.4")).CreateWorkflowAsync(Samples.Workflow(newName: "budget"));

        var flood = await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => flooder.GetAsync("/v1/workflows")));

        var limited = flood.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.InRange(limited.Count, 45, 50);
        Assert.All(flood, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));
        foreach (var response in limited.Take(5))
        {
            var problem = await ProblemAssert.IsProblem(response, HttpStatusCode.TooManyRequests);
            Assert.Equal("Too many requests from this client.", problem.GetProperty("title").GetString());
            Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        }

        // Another address is untouched; the flooder can still start runs (a separate budget) until that one runs out.
        Assert.All(await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => neighbour.GetAsync("/v1/workflows"))), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var starts = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            starts.Add((await new RunsClient(flooder).StartRawAsync("budget", new JsonObject { ["input"] = "x" })).StatusCode);
        }

        Assert.Equal(HttpStatusCode.Accepted, starts[0]);
        Assert.Contains(HttpStatusCode.TooManyRequests, starts);
    }

    [Fact]
    public async Task Open_streams_are_capped_per_client_and_a_closed_stream_frees_its_slot()
    {
        await using var app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["RateLimits:MaxOpenStreamsPerClient"] = "2",
            ["Models:Scripted:TurnDelayMs"] = "30000",
        });
        var runs = new RunsClient(app.CreateClient());
        var runId = await runs.StartAsync(await runs.CreateWorkflowAsync(Samples.Workflow(newName: "slow")));
        var baseAddress = runs.Http.BaseAddress!;
        using var client = LoopbackClient.Create(baseAddress, "127.0.0.5");
        using var other = LoopbackClient.Create(baseAddress, "127.0.0.6");

        var first = await OpenStreamAsync(client, runId);
        var second = await OpenStreamAsync(client, runId);
        var third = await OpenStreamAsync(client, runId);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var problem = await ProblemAssert.IsProblem(third, HttpStatusCode.TooManyRequests);
        Assert.Equal("Too many open streams from this client.", problem.GetProperty("title").GetString());
        using (var elsewhere = await OpenStreamAsync(other, runId))
        {
            Assert.Equal(HttpStatusCode.OK, elsewhere.StatusCode);
        }

        // A POST that would stream is refused before it starts anything.
        var refused = await client.PostAsync("/v1/responses", new StringContent("""{"model":"slow","input":"x","stream":true}""", Encoding.UTF8, "application/json"));
        await ProblemAssert.IsProblem(refused, HttpStatusCode.TooManyRequests);

        first.Dispose();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        HttpResponseMessage again;
        while ((again = await OpenStreamAsync(client, runId)).StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            again.Dispose();
            await Task.Delay(200);
        }

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        again.Dispose();
        second.Dispose();
        await runs.PostAsync(runId, "cancel");
    }

    [Fact]
    public async Task While_PostgreSQL_is_unreachable_requests_get_503_with_Retry_After_and_the_server_recovers_by_itself()
    {
        await using var relay = new TcpRelay(stack.Postgres.Port);
        var database = new NpgsqlConnectionStringBuilder(await stack.CreateMigratedDatabaseAsync()) { Port = relay.Port }.ConnectionString;
        await using var app = await QlawApplication.StartAsync(stack, database: database);
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Workflow(newName: "outage"));
        var before = await runs.StartAsync("outage");
        await runs.WaitForAsync(before, "completed");

        relay.Cut();
        foreach (var request in new Func<Task<HttpResponseMessage>>[]
        {
            () => runs.StartRawAsync("outage", new JsonObject { ["input"] = "during the outage" }),
            () => runs.Http.GetAsync(new Uri($"/v1/runs/{before}/status", UriKind.Relative)),
            () => runs.Http.GetAsync(new Uri("/v1/runs", UriKind.Relative)),
            () => runs.Http.GetAsync(new Uri($"/v1/runs/{before}/responses", UriKind.Relative)),
        })
        {
            using var response = await request();
            var problem = await ProblemAssert.IsProblem(response, HttpStatusCode.ServiceUnavailable);
            Assert.Equal(TimeSpan.FromSeconds(2), response.Headers.RetryAfter?.Delta);
            Assert.DoesNotContain(Internals, problem.GetRawText().Contains);
        }

        relay.Restore();
        string? after = null;
        for (var i = 0; i < 40 && after is null; i++)
        {
            using var response = await runs.StartRawAsync("outage", new JsonObject { ["input"] = "after the outage" });
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                after = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
            }
            else
            {
                await ProblemAssert.IsProblem(response, HttpStatusCode.ServiceUnavailable);
                await Task.Delay(250);
            }
        }

        Assert.NotNull(after);
        await runs.WaitForAsync(after, "completed");
        Assert.Equal(2, (await runs.Http.GetFromJsonAsync<JsonObject>(new Uri("/v1/runs?limit=10", UriKind.Relative)))!["data"]!.AsArray().Count);
    }

    [Fact]
    public async Task Responses_carry_security_headers_and_configured_origins_get_cors()
    {
        await using var app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["Http:Cors:AllowedOrigins:0"] = "http://console.example.test",
        });
        var http = app.CreateClient();

        var ok = await http.GetAsync("/v1/workflows");
        var missing = await http.GetAsync("/v1/runs/nope/status");
        var preflight = new HttpRequestMessage(HttpMethod.Options, "/v1/workflows");
        preflight.Headers.Add("Origin", "http://console.example.test");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        var allowed = await http.SendAsync(preflight);
        var foreign = new HttpRequestMessage(HttpMethod.Get, "/v1/workflows");
        foreign.Headers.Add("Origin", "http://elsewhere.test");
        var refused = await http.SendAsync(foreign);

        foreach (var response in new[] { ok, missing })
        {
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
            Assert.Contains("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        }

        Assert.Equal("http://console.example.test", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Every_v1_route_carries_the_one_authorization_policy_and_a_rate_limit_budget()
    {
        await using var app = await QlawApplication.StartAsync(stack);

        var routes = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/v1", StringComparison.Ordinal) == true).ToList();

        Assert.True(routes.Count >= 14, $"{routes.Count} routes");
        Assert.All(routes, route =>
        {
            Assert.Contains(route.Metadata.GetOrderedMetadata<IAuthorizeData>(), a => a.Policy == ApiExtensions.ApiPolicy);
            Assert.Contains(
                route.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName,
                new[] { RateLimiting.Requests, RateLimiting.RunCreation });
        });
    }

    private static async Task<HttpResponseMessage> OpenStreamAsync(HttpClient client, string runId)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/runs/{runId}/responses");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    private static async Task<(int Status, string? Problem)> SendAsync(HttpClient http, HttpMethod method, string path, Body? body, (string Name, string Value)? header)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body.Bytes);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(body.ContentType);

            // As careful clients do with large bodies: the server can refuse before the body is sent.
            request.Headers.ExpectContinue = body.Bytes.Length > 1_000_000;
        }

        if (header is { } h)
        {
            request.Headers.TryAddWithoutValidation(h.Name, h.Value);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        }
        catch (HttpRequestException exception)
        {
            return (0, $"no response: {exception.Message} {exception.InnerException?.Message}");
        }

        using var owned = response;
        var status = (int)response.StatusCode;
        if (status < 400)
        {
            return (status, null);
        }

        var text = await response.Content.ReadAsStringAsync(timeout.Token);
        if (status >= 500)
        {
            return (status, text);
        }

        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
        {
            return (status, $"content type {response.Content.Headers.ContentType}: {text}");
        }

        try
        {
            var problem = JsonDocument.Parse(text).RootElement;
            if (problem.GetProperty("status").GetInt32() != status || !problem.TryGetProperty("title", out _) || !problem.TryGetProperty("traceId", out _))
            {
                return (status, $"incomplete problem: {text}");
            }
        }
        catch (Exception exception) when (exception is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return (status, $"not a problem document: {text}");
        }

        var leak = Internals.FirstOrDefault(word => text.Contains(word, StringComparison.Ordinal));
        return leak is null ? (status, null) : (status, $"leaks '{leak}': {text}");
    }

    private sealed record Body(string Name, byte[] Bytes, string ContentType = "application/json");

    private static Body Json(string name, string json) => new(name, Encoding.UTF8.GetBytes(json));

    private static IEnumerable<Body> Bodies()
    {
        yield return Json("empty", "");
        yield return Json("open", "{");
        yield return Json("null", "null");
        yield return Json("array", "[]");
        yield return Json("number", "1");
        yield return Json("string", "\"x\"");
        yield return Json("trailing", "{\"input\":\"x\"}}");
        yield return Json("comment", "{/* c */\"input\":\"x\"}");
        yield return Json("input-number", "{\"input\":5}");
        yield return Json("input-null", "{\"input\":null}");
        yield return Json("input-object", "{\"input\":{\"a\":[1,2,{}]}}");
        yield return Json("input-nul", "{\"input\":\"a\\u0000b\"}");
        yield return Json("input-lone-surrogate", "{\"input\":\"\\ud800\"}");
        yield return Json("input-rtl", "{\"input\":\"\\u202e\\u0000\\uffff\"}");
        yield return Json("input-huge-number", "{\"input\":\"x\",\"metadata\":{\"n\":1e400}}");
        yield return Json("metadata-overflow", "{\"input\":\"x\",\"metadata\":{\"n\":1e999999,\"m\":1e-999999}}");
        yield return Json("workflow-null-agent", "{\"name\":\"w\",\"start_agent\":\"p\",\"agents\":[null,{\"name\":\"p\",\"role\":\"coder\",\"tools\":[null]}]}");
        yield return Json("input-too-long", $"{{\"input\":\"{new string('x', 200_000)}\"}}");
        yield return Json("oversized", $"{{\"input\":\"{new string('x', 2_000_000)}\"}}");
        yield return Json("deep", $"{{\"input\":\"x\",\"metadata\":{string.Concat(Enumerable.Repeat("{\"a\":", 300))}1{new string('}', 300)}}}");
        yield return Json("deep-array", new string('[', 5000) + new string(']', 5000));
        yield return Json("duplicate-keys", "{\"input\":\"x\",\"input\":\"y\"}");
        yield return Json("metadata-string", "{\"input\":\"x\",\"metadata\":\"m\"}");
        yield return Json("metadata-nul-key", "{\"input\":\"x\",\"metadata\":{\"a\\u0000\":\"\\u0000\"}}");
        yield return Json("to-agent", "{\"to_agent\":\"\\ud83d\\udca5\",\"reason\":7}");
        yield return Json("to-agent-nul", "{\"to_agent\":\"coder\\u0000\",\"reason\":\"\\u0000\"}");
        yield return Json("responses-number", "{\"responses\":5}");
        yield return Json("responses-nul", "{\"responses\":{\"\\u0000\":\"\\u0000\"},\"stream\":false}");
        yield return Json("model-long", $"{{\"model\":\"{new string('m', 5000)}\",\"input\":\"x\",\"stream\":false}}");
        yield return Json("model-nul", "{\"model\":\"fuzz\\u0000\",\"input\":\"x\",\"stream\":false}");
        yield return Json("model-input-array", "{\"model\":\"nope\",\"input\":[{\"role\":7}],\"stream\":\"yes\"}");
        yield return Json("previous", "{\"model\":\"nope\",\"input\":\"x\",\"previous_response_id\":\"resp_\\u0000\",\"stream\":false}");
        yield return Json("workflow-empty", "{\"name\":\"\",\"agents\":[]}");
        yield return Json("workflow-types", "{\"name\":5,\"agents\":{\"a\":1},\"start_agent\":[]}");
        yield return Json("workflow-nul", "{\"name\":\"w\\u0000\",\"start_agent\":\"p\",\"agents\":[{\"name\":\"p\",\"role\":\"planner\",\"instructions\":\"\\u0000\"}]}");
        yield return Json("workflow-many-agents", $"{{\"name\":\"many\",\"start_agent\":\"a0\",\"agents\":[{string.Join(',', Enumerable.Range(0, 500).Select(i => $"{{\"name\":\"a{i}\",\"role\":\"coder\"}}"))}]}}");
        yield return Json("workflow-bad-role", "{\"name\":\"w\",\"start_agent\":\"p\",\"agents\":[{\"name\":\"p\",\"role\":\"wizard\"}]}");
        yield return new Body("bom", [0xEF, 0xBB, 0xBF, .. "{\"input\":\"x\"}"u8.ToArray()]);
        yield return new Body("invalid-utf8", [.. "{\"input\":\""u8.ToArray(), 0xFF, 0xFE, 0xC0, .. "\"}"u8.ToArray()]);
        yield return new Body("text-plain", "{\"input\":\"x\"}"u8.ToArray(), "text/plain");
        yield return new Body("form", "input=x"u8.ToArray(), "application/x-www-form-urlencoded");
        yield return new Body("charset", "{\"input\":\"x\"}"u8.ToArray(), "application/json; charset=utf-7");
    }
}
