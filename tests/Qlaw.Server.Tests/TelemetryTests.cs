using System.Diagnostics;
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

        // Model calls are Microsoft.Extensions.AI's gen_ai spans (chat {model}) and metrics, on Qlaw's source and meter.
        Assert.True(stream.SawDone);
        Assert.Empty(await receiver.WaitForAsync("traces", [
            QlawTelemetry.AgentTurnSpan, "chat default", "gen_ai.provider.name", "scripted", "gen_ai.request.model", runId,
            QlawTelemetry.RunIdTag, QlawTelemetry.StepTag, QlawTelemetry.AgentTag, "judge", "qlaw-telemetry-test", "/v1/runs/{id}/status"]));
        Assert.Empty(await receiver.WaitForAsync("metrics", [
            "qlaw.runs.started", "qlaw.runs.completed", "qlaw.runs.failed", "qlaw.steps", "qlaw.step.retries",
            "gen_ai.client.operation.duration", "qlaw.streams.open"]));

        // The failed turn's warning is exported with its scope: the run id and step travel with the log line.
        Assert.Empty(await receiver.WaitForAsync("logs", [brokenId, "run_id", "qlaw-telemetry-test"]));
    }

    [Fact]
    public async Task Each_model_call_is_a_gen_ai_span_inside_its_turns_span_which_names_the_run_step_attempt_and_agent()
    {
        var spans = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == QlawTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var app = await QlawApplication.StartAsync(stack);
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Scripted("flaky-model", new JsonObject { ["say"] = "plan", ["call"] = "complete", ["fail_transient"] = 1 }));

        var runId = await runs.StartAsync("flaky-model");
        await runs.WaitForAsync(runId, "completed");

        // The first attempt's call failed (error.type, status Error), the second answered; each inside its own turn span.
        var calls = spans.Where(s => s.GetTagItem("gen_ai.operation.name") as string == "chat" && s.Parent?.GetTagItem(QlawTelemetry.RunIdTag) as string == runId.ToString()).ToList();
        Assert.Equal([(1, ActivityStatusCode.Error), (2, ActivityStatusCode.Unset)], calls.Select(c => ((int)c.Parent!.GetTagItem(QlawTelemetry.AttemptTag)!, c.Status)).Order());
        Assert.All(calls, call =>
        {
            Assert.Equal((QlawTelemetry.AgentTurnSpan, ActivityKind.Client), (call.Parent!.OperationName, call.Kind));
            Assert.Equal((0, "planner"), ((int)call.Parent.GetTagItem(QlawTelemetry.StepTag)!, call.Parent.GetTagItem(QlawTelemetry.AgentTag)));
            Assert.Equal(("scripted", "default"), (call.GetTagItem("gen_ai.provider.name"), call.GetTagItem("gen_ai.request.model")));
        });
        Assert.NotNull(calls.Single(c => c.Status == ActivityStatusCode.Error).GetTagItem("error.type"));
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
