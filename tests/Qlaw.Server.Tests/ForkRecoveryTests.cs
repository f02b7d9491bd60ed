using System.Text.Json.Nodes;
using Qlaw.AppHost.LocalStack;
using Qlaw.Testing;
using static Qlaw.Server.Tests.RecoveryTests;

namespace Qlaw.Server.Tests;

/// <summary>
/// A fork whose process dies between its writes (<see cref="RecoveryTests"/>' kind of fault). Three server processes a
/// case, mostly waiting on exits and redelivery, so it runs late, beside the other late collections, where the cores
/// are idle, rather than in the parallel ones, whose cores are full.
/// </summary>
[Collection(QlawStackCollections.LateForks)]
public sealed class ForkRecoveryTests(QlawStackFixture stack)
{
    [Theory]
    [InlineData("Recovery:CrashAfterRunCommitted")]
    [InlineData("Recovery:CrashAfterSignalRaised")]
    public async Task A_process_that_dies_while_forking_a_run_loses_nothing_and_duplicates_nothing(string fault)
    {
        var url = new Uri($"http://127.0.0.1:{Network.FreePort()}");
        var settings = With(
            new Dictionary<string, string?>((await stack.ServerSettingsAsync()).Concat(FastRecovery).Concat(QuickRedelivery)),
            ("Database:SeedWorkflowsPath", Samples.WorkflowsFolder));
        using var http = new HttpClient { BaseAddress = url };
        var runs = new RunsClient(http);
        string source;
        await using (var first = await ServerProcess.StartAsync(url, settings, echo: false))
        {
            source = await runs.StartAsync("code-review");
            await runs.WaitForAsync(source, "completed");
        }

        await using (var doomed = await ServerProcess.StartAsync(url, With(settings, (fault, "true")), echo: false))
        {
            // The process dies at the fault, usually under the request; when the request's delivery of the schedule
            // fails first (the hub still starting), the fork is accepted and the outbox's next delivery reaches the fault.
            try
            {
                await runs.ForkRawAsync(source, new JsonObject { ["from_step"] = 2, ["input"] = "again" });
            }
            catch (HttpRequestException)
            {
                // The answer was lost with the process.
            }

            await doomed.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        }

        await using var server = await ServerProcess.StartAsync(url, settings, echo: false);
        var listed = JsonNode.Parse(await http.GetStringAsync("/v1/runs?limit=100"))!["data"]!.AsArray();
        var fork = Assert.Single(listed, r => r!["forked_from"]?.GetValue<string>() == source)!["id"]!.GetValue<string>();

        var status = await runs.WaitForAsync(fork, "completed", timeoutSeconds: 90);

        AssertOneCompletedStepPerIndex(status);
        Assert.Equal(2, listed.Count);
        Assert.Equal(5, status["steps"]!.AsArray().Count(s => s!["status"]!.GetValue<string>() == "completed"));
        var types = (await runs.AuditAsync(fork)).Select(e => e["type"]!.GetValue<string>()).ToList();
        Assert.Single(types, t => t == "run.forked_from");
        Assert.Equal(2, types.Count(t => t == "step.completed"));
        Assert.Equal(2, types.Count(t => t is "handoff" or "return"));
        Assert.Single(types, t => t == "run.completed");
        Assert.Single(await runs.AuditAsync(source), e => e["type"]!.GetValue<string>() == "run.forked");
    }
}
