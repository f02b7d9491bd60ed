using System.Text.Json.Nodes;
using Qlaw.FakeModel;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// A provider's limits, honoured as a real one sets them (a fake OpenAI-compatible model on 127.0.0.1): a 429 is waited
/// out as its <c>retry-after</c> asks without spending the workflow's attempts, the rate-limit headers hold the endpoint
/// back before it refuses, a quota storm fails no run, and turns beyond an endpoint's <c>MaxConcurrentCalls</c> wait
/// their turn where status and audit show it.
/// </summary>
[Collection(QlawStackCollections.Recovery)]
public sealed class ProviderLimitsTests(QlawStackFixture stack) : IAsyncLifetime
{
    private FakeOpenAIServer _model = null!;

    public async Task InitializeAsync() => _model = await FakeOpenAIServer.StartAsync();

    public async Task DisposeAsync() => await _model.DisposeAsync();

    [Fact]
    public async Task A_429_with_retry_after_is_waited_out_and_called_again_without_spending_an_attempt()
    {
        await using var app = await StartAsync();
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Chain("throttled"));
        _model.Enqueue(FakeReply.Throttled(2));
        _model.UsePace(new FakeModelPace { FirstTokenMs = 10, Tokens = 3, TokenMs = 10 });

        var runId = await runs.StartAsync("throttled");
        var completed = await runs.WaitForAsync(runId, "completed");

        Assert.Equal(["planner:completed:1", "coder:completed:1", "judge:completed:1"], RunsClient.Steps(completed));
        var (refused, again) = (_model.Requests.ElementAt(0), _model.Requests.ElementAt(1));
        Assert.Equal(429, refused.Status);
        Assert.True(refused.Until(again) >= TimeSpan.FromSeconds(2), $"called again after {refused.Until(again).TotalMilliseconds} ms");
        var audit = await runs.AuditAsync(runId);
        var waited = Assert.Single(audit, e => e["type"]!.GetValue<string>() == "model.waiting");
        Assert.Equal(("retry_after", 429, 2000.0), (waited["detail"]!["reason"]!.GetValue<string>(), waited["detail"]!["status"]!.GetValue<int>(), waited["detail"]!["wait_ms"]!.GetValue<double>()));
        Assert.DoesNotContain(audit, e => e["type"]!.GetValue<string>() is "step.failed" or "step.retrying");
    }

    [Fact]
    public async Task Rate_limit_headers_that_run_out_hold_the_endpoint_back_before_it_answers_429()
    {
        await using var app = await StartAsync();
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Chain("rate-limited"));
        _model.Enqueue(FakeReply.Text("A plan.").Calling("handoff_to_coder") with
        {
            Headers = new Dictionary<string, string> { ["x-ratelimit-remaining-requests"] = "0", ["x-ratelimit-reset-requests"] = "1.5s" },
        });
        _model.UsePace(new FakeModelPace { FirstTokenMs = 10, Tokens = 3, TokenMs = 10 });

        var runId = await runs.StartAsync("rate-limited");
        await runs.WaitForAsync(runId, "completed");

        var (first, second) = (_model.Requests.ElementAt(0), _model.Requests.ElementAt(1));
        Assert.True(first.Until(second) >= TimeSpan.FromSeconds(1.4), $"called again after {first.Until(second).TotalMilliseconds} ms");
        Assert.Equal(0, _model.Throttled);
        var waited = Assert.Single(await runs.AuditAsync(runId), e => e["type"]!.GetValue<string>() == "model.waiting");
        Assert.Equal(("rate_limit", "coder"), (waited["detail"]!["reason"]!.GetValue<string>(), waited["detail"]!["agent"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Twenty_runs_against_an_endpoint_that_refuses_every_other_call_all_complete()
    {
        await using var app = await StartAsync();
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Chain("storm"));
        _model.ThrottleEvery(2, retryAfterSeconds: 1);
        _model.UsePace(new FakeModelPace { FirstTokenMs = 20, Tokens = 5, TokenMs = 20 });

        var ids = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => runs.StartAsync("storm")));
        var ended = await Task.WhenAll(ids.Select(id => runs.WaitForAsync(id, "completed", timeoutSeconds: 180)));

        Assert.All(ended, status => Assert.All(status["steps"]!.AsArray(), s => Assert.Equal(1, s!["attempt"]!.GetValue<int>())));
        Assert.True(_model.Throttled >= 20, $"the fake refused {_model.Throttled} calls");
    }

    [Fact]
    public async Task Turns_beyond_the_endpoints_call_cap_wait_their_turn_and_say_so_in_status_and_audit()
    {
        await using var app = await StartAsync(new() { ["Models:OpenAI:MaxConcurrentCalls"] = "1" });
        var runs = new RunsClient(app.CreateClient());
        await runs.CreateWorkflowAsync(Samples.Chain("one-at-a-time"));
        _model.UsePace(new FakeModelPace { FirstTokenMs = 300, Tokens = 10, TokenMs = 100 });

        var first = await runs.StartAsync("one-at-a-time");
        await Poll.UntilAsync(() => Task.FromResult(_model.InFlight == 1), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(20), "the first run's model call never went");
        var second = await runs.StartAsync("one-at-a-time");

        // While the first run's call runs, the second run's turn is queued for the endpoint, and its status says so.
        JsonNode? waiting = null;
        await Poll.UntilAsync(
            async () => (waiting = (await runs.StatusAsync(second))["steps"]!.AsArray().FirstOrDefault()?["waiting"]) is not null,
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50), "the second run's turn never showed it waits");
        Assert.Equal(("calls", "openai"), (waiting!["reason"]!.GetValue<string>(), waiting["endpoint"]!.GetValue<string>()));

        await runs.WaitForAsync(first, "completed");
        var done = await runs.WaitForAsync(second, "completed");
        Assert.All(done["steps"]!.AsArray(), s => Assert.Null(s!["waiting"]));
        Assert.Equal(1, _model.PeakInFlight);
        var waits = (await runs.AuditAsync(second)).Where(e => e["type"]!.GetValue<string>() == "model.waiting").ToList();
        Assert.NotEmpty(waits);
        Assert.All(waits, w => Assert.Equal("calls", w["detail"]!["reason"]!.GetValue<string>()));
    }

    private Task<QlawApplication> StartAsync(Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Models:OpenAI:ApiKey"] = "sk-test",
            ["Models:OpenAI:BaseUrl"] = _model.BaseUrl.ToString(),
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return QlawApplication.StartAsync(stack, settings);
    }
}
