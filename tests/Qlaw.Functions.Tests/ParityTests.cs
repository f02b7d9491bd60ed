using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.DurableTask.Client;
using Qlaw.Functions.Http;
using Qlaw.Testing;

namespace Qlaw.Functions.Tests;

/// <summary>
/// The same requests to Qlaw.Server (real Kestrel) and to Qlaw.Functions' triggers get the same answers: status,
/// problem title and the fields named in <c>errors</c>.
/// </summary>
[Collection(StackCollectionDefinition.Name)]
public sealed class ParityTests(QlawStackFixture stack)
{
    private static readonly Dictionary<string, string?> Settings = new() { ["Http:MaxRequestBodyBytes"] = "2048" };

    private static readonly Dictionary<string, (string Method, string Path, string? Body, string ContentType, Func<HttpRequest, DurableTaskClient, Task<IActionResult>> Trigger)> Requests = new()
    {
        ["unreadable body"] = ("POST", "/v1/workflows/parity/runs", "{", "application/json", (r, c) => ApiFunctions.StartRun(r, "parity", c)),
        ["wrong type"] = ("POST", "/v1/workflows/parity/runs", """{"input":5}""", "application/json", (r, c) => ApiFunctions.StartRun(r, "parity", c)),
        ["empty input"] = ("POST", "/v1/workflows/parity/runs", """{"input":""}""", "application/json", (r, c) => ApiFunctions.StartRun(r, "parity", c)),
        ["no body"] = ("POST", "/v1/workflows/parity/runs", null, "application/json", (r, c) => ApiFunctions.StartRun(r, "parity", c)),
        ["nul in text"] = ("POST", "/v1/workflows/parity/runs", """{"input":"a\u0000"}""", "application/json", (r, c) => ApiFunctions.StartRun(r, "parity", c)),
        ["text/plain"] = ("POST", "/v1/workflows/parity/runs", """{"input":"x"}""", "text/plain", (r, c) => ApiFunctions.StartRun(r, "parity", c)),
        ["utf-16 charset"] = ("POST", "/v1/workflows/parity/runs", """{"input":"x"}""", "application/json; charset=utf-16", (r, c) => ApiFunctions.StartRun(r, "parity", c)),
        ["oversized"] = ("POST", "/v1/workflows/parity/runs", $$"""{"input":"{{new string('x', 4000)}}"}""", "application/json", (r, c) => ApiFunctions.StartRun(r, "parity", c)),
        ["unknown workflow"] = ("POST", "/v1/workflows/nope/runs", """{"input":"x"}""", "application/json", (r, c) => ApiFunctions.StartRun(r, "nope", c)),
        ["unknown run"] = ("GET", "/v1/runs/nope/status", null, "", (r, c) => ApiFunctions.GetRunStatus(r, "nope", c)),
        ["limit not a number"] = ("GET", "/v1/runs/nope/audit?limit=abc", null, "", (r, c) => ApiFunctions.GetRunAudit(r, "nope", c)),
        ["limit out of range"] = ("GET", "/v1/workflows?limit=0", null, "", ApiFunctions.ListWorkflows),
        ["bad cursor"] = ("GET", "/v1/workflows/parity/runs?after=xyz", null, "", (r, c) => ApiFunctions.ListWorkflowRuns(r, "parity", c)),
        ["bad stream cursor"] = ("GET", "/v1/runs/nope/responses?starting_after=x", null, "", (r, c) => ApiFunctions.StreamRun(r, "nope", c)),
        ["handoff without agent"] = ("POST", "/v1/runs/00000000-0000-0000-0000-000000000001/handoff", """{"reason":"r"}""", "application/json", (r, c) => ApiFunctions.HandoffRun(r, "00000000-0000-0000-0000-000000000001", c)),
        ["fork without from_step"] = ("POST", "/v1/runs/00000000-0000-0000-0000-000000000001/fork", """{"input":"again"}""", "application/json", (r, c) => ApiFunctions.ForkRun(r, "00000000-0000-0000-0000-000000000001", c)),
        ["fork of an unknown run"] = ("POST", "/v1/runs/00000000-0000-0000-0000-000000000001/fork", """{"from_step":0}""", "application/json", (r, c) => ApiFunctions.ForkRun(r, "00000000-0000-0000-0000-000000000001", c)),
        ["unknown model"] = ("POST", "/v1/responses", """{"model":"nope","input":"x","stream":false}""", "application/json", ApiFunctions.CreateResponse),
        ["invalid workflow"] = ("POST", "/v1/workflows", """{"name":"","agents":[]}""", "application/json", ApiFunctions.CreateWorkflow),
        ["send without input"] = ("POST", "/v1/workflows/parity/send_responses", "{}", "application/json", (r, c) => ApiFunctions.SendResponses(r, "parity", c)),
    };

    [Fact]
    public async Task Server_and_functions_answer_every_kind_of_bad_request_the_same_way()
    {
        await using var server = await QlawApplication.StartAsync(stack, Settings);
        await using var functions = await FunctionsHost.StartAsync(stack, Settings);
        var http = server.CreateClient();
        await new RunsClient(http).CreateWorkflowAsync(Samples.Workflow(newName: "parity"));
        await FunctionsApiTests.SendAsync(ApiFunctions.CreateWorkflow, functions.Request("POST", "/v1/workflows", Samples.Workflow(newName: "parity").ToJsonString()), functions.Client.Object);

        foreach (var (name, (method, path, body, contentType, invoke)) in Requests)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (body is not null)
            {
                request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            }

            using var expected = await http.SendAsync(request);
            var trigger = functions.Request(method, path, body);
            if (body is not null)
            {
                trigger.ContentType = contentType;
            }

            var actual = await FunctionsApiTests.SendAsync(invoke, trigger, functions.Client.Object);

            var expectedBody = await expected.Content.ReadAsStringAsync();
            Assert.True((int)expected.StatusCode == actual.Status, $"{name}: server {(int)expected.StatusCode} {expectedBody}\nfunctions {actual.Status} {actual.Body}");
            Assert.InRange(actual.Status, 400, 499);
            Assert.Equal("application/problem+json", expected.Content.Headers.ContentType?.MediaType);
            Assert.Equal("application/problem+json", actual.ContentType);
            var (serverProblem, functionsProblem) = (JsonDocument.Parse(expectedBody).RootElement, actual.Json);
            Assert.Equal(serverProblem.GetProperty("title").GetString(), functionsProblem.GetProperty("title").GetString());
            Assert.Equal(serverProblem.TryGetProperty("detail", out var d) ? d.GetString() : null, functionsProblem.TryGetProperty("detail", out var f) ? f.GetString() : null);
            Assert.Equal(Fields(serverProblem), Fields(functionsProblem));
            Assert.True(functionsProblem.TryGetProperty("traceId", out _), name);
        }
    }

    private static string[] Fields(JsonElement problem) =>
        problem.TryGetProperty("errors", out var errors) ? [.. errors.EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal)] : [];
}
