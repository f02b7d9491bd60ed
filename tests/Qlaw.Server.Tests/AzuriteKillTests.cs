using Qlaw.AppHost.LocalStack;
using Qlaw.Testing;
using static Qlaw.Server.Tests.RecoveryTests;

namespace Qlaw.Server.Tests;

/// <summary>
/// Azurite SIGKILLed and restarted under a server with runs in flight. It runs last, alone
/// (<see cref="QlawStackCollections.LateAlone"/>): under a busy machine a run was left at one step past the test's wait.
/// </summary>
[Collection(QlawStackCollections.LateAlone)]
public sealed class AzuriteKillTests(QlawStackFixture stack)
{
    [Fact]
    public async Task A_SIGKILL_of_azurite_mid_load_loses_no_run_and_duplicates_no_step()
    {
        var root = RepositoryRoot.Find();
        var data = Path.Combine(Path.GetTempPath(), $"qlaw-azurite-{Guid.NewGuid():N}");
        var (blob, queue, table) = (Network.FreePort(), Network.FreePort(), Network.FreePort());
        var azurite = await LocalAzurite.StartAsync(root, data, blob, queue, table, echo: false);
        try
        {
            await using var app = await QlawApplication.StartAsync(stack, With(FastRecovery, ("Models:Scripted:TurnDelayMs", "100")), durableStorage: azurite.ConnectionString);
            var runs = new RunsClient(app.CreateClient());
            await runs.CreateWorkflowAsync(Samples.Workflow());
            var runIds = new List<string>();
            for (var i = 0; i < 8; i++)
            {
                runIds.Add(await runs.StartAsync("code-review"));
            }

            await Task.Delay(800);
            azurite.Kill();
            await azurite.DisposeAsync();
            await Task.Delay(1500);
            azurite = await LocalAzurite.StartAsync(root, data, blob, queue, table, echo: false);

            foreach (var runId in runIds)
            {
                AssertOneCompletedStepPerIndex(await runs.WaitForAsync(runId, "completed", timeoutSeconds: 120));
            }
        }
        finally
        {
            await azurite.DisposeAsync();
            Directory.Delete(data, recursive: true);
        }
    }
}
