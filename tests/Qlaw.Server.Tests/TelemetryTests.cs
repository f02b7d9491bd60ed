using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Qlaw.Core.Telemetry;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>OpenTelemetry: exported over OTLP only when configured, with Qlaw's spans and counters.</summary>
[Collection(QlawStackCollections.Api)]
public sealed class TelemetryTests(QlawStackFixture stack)
{
    [Fact]
    public async Task Runs_export_their_spans_and_counters_to_the_configured_otlp_endpoint()
    {
        await using var receiver = await FakeOtlpReceiver.StartAsync();
        await using var app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["Telemetry:OtlpEndpoint"] = receiver.Endpoint.ToString(),
            ["Telemetry:Protocol"] = "http/protobuf",
            ["Telemetry:ServiceName"] = "qlaw-telemetry-test",
            ["Telemetry:ExportIntervalMs"] = "200",
        });
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Workflow());
        await runs.CreateWorkflowAsync(Scripted("flaky", new JsonObject { ["say"] = "plan", ["call"] = "complete", ["fail_transient"] = 1 }));
        await runs.CreateWorkflowAsync(Scripted("broken", new JsonObject { ["say"] = "plan", ["call"] = "complete", ["fail_permanent"] = true }));

        var runId = await runs.StartAsync("code-review");
        await runs.WaitForAsync(runId, "completed");
        var stream = await SseClient.GetAsync(runs.Http, $"/v1/runs/{runId}/responses");
        await runs.WaitForAsync(await runs.StartAsync("flaky"), "completed");
        var brokenId = await runs.StartAsync("broken");
        await runs.WaitForAsync(brokenId, "failed");

        Assert.True(stream.SawDone);
        Assert.Empty(await receiver.WaitForAsync("traces", [
            QlawTelemetry.AgentTurnSpan, QlawTelemetry.ModelCallSpan, runId, QlawTelemetry.RunIdTag, QlawTelemetry.StepTag,
            QlawTelemetry.AgentTag, "judge", "qlaw-telemetry-test", "/v1/runs/{id}/status"]));
        Assert.Empty(await receiver.WaitForAsync("metrics", [
            "qlaw.runs.started", "qlaw.runs.completed", "qlaw.runs.failed", "qlaw.steps", "qlaw.step.retries",
            "qlaw.model.calls", "qlaw.streams.open"]));

        // The failed turn's warning is exported with its scope: the run id and step travel with the log line.
        Assert.Empty(await receiver.WaitForAsync("logs", [brokenId, "run_id", "qlaw-telemetry-test"]));
    }

    [Fact]
    public async Task Without_an_endpoint_the_opentelemetry_sdk_is_not_added()
    {
        await using var app = await QlawApplication.StartAsync(stack);

        Assert.Null(app.Services.GetService<TracerProvider>());
        Assert.Null(app.Services.GetService<MeterProvider>());
    }

    /// <summary>The sample workflow renamed, its planner playing <paramref name="turn"/> with fast retries.</summary>
    private static JsonObject Scripted(string name, JsonObject turn)
    {
        var workflow = Samples.Workflow(newName: name);
        workflow["retry"] = new JsonObject { ["max_attempts"] = 3, ["first_interval_ms"] = 50, ["backoff_coefficient"] = 1.5, ["max_interval_ms"] = 200 };
        workflow["agents"]![0]!["script"] = new JsonArray(turn);
        return workflow;
    }
}
