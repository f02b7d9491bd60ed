using System.Diagnostics;
using Qlaw.AppHost.LocalStack;
using Qlaw.Testing;
using static Qlaw.Server.Tests.RecoveryTests;

namespace Qlaw.Server.Tests;

/// <summary>
/// Azurite SIGKILLed and restarted under a server with runs in flight. Azurite loses the writes of its last moments
/// (queue messages, history rows) on a kill, so the hub is left inconsistent and the reconciler re-drives what it lost.
/// </summary>
[Collection(QlawStackCollections.LateOutages)]
public sealed class AzuriteKillTests(QlawStackFixture stack)
{
    // Past the storage provider's first lease renewal after the server started (its app lease: every 25 s).
    private static readonly TimeSpan LeaseRenewal = TimeSpan.FromSeconds(28);

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
            var started = Stopwatch.StartNew();
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

            // The hub keeps working past the moment its leases are first renewed on the restarted storage: the
            // provider's app lease, renewed every 25 s, failed there and stopped the worker's partitions for 5 minutes.
            await Task.Delay(LeaseRenewal - started.Elapsed is { Ticks: > 0 } left ? left : TimeSpan.Zero);
            AssertOneCompletedStepPerIndex(await runs.WaitForAsync(await runs.StartAsync("code-review"), "completed", timeoutSeconds: 60));
        }
        finally
        {
            await azurite.DisposeAsync();
            Directory.Delete(data, recursive: true);
        }
    }
}
