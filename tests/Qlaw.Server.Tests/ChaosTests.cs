using Qlaw.Bench.Scenarios;
using Qlaw.Bench.Stack;

namespace Qlaw.Server.Tests;

/// <summary>
/// A smaller version of the benchmark's chaos run (<c>dotnet run -c Release --project bench/Qlaw.Bench -- chaos</c>),
/// same code: runs started and followed by reconnecting SSE clients while the server is SIGKILLed and restarted,
/// and PostgreSQL and Azurite are SIGKILLed and restarted under the running server. It has its own stack, since it
/// kills it; it runs late so that it does not run beside the parallel collections.
/// </summary>
[Collection(QlawStackCollections.LateChaos)]
public sealed class ChaosTests
{
    [Fact]
    public async Task Runs_survive_SIGKILLs_of_the_server_PostgreSQL_and_Azurite_completing_once_with_every_event_streamed_once_in_order()
    {
        await using var stack = await BenchStack.StartAsync(azuriteOnDisk: true);
        var plan = new ChaosPlan(Runs: 12, ServerKills: 3, Window: TimeSpan.FromSeconds(30), Seed: 2026)
        {
            // A run whose storage messages the Azurite kill lost is re-driven after this, not the default two minutes. Turns
            // of a second keep a few runs streaming at every moment of the window, so that each server kill breaks streams.
            ServerSettings = new Dictionary<string, string?> { ["Recovery:StaleAfterSeconds"] = "20", ["Models:Scripted:TurnDelayMs"] = "1000" },
        };

        var outcome = await Chaos.RunOutcomeAsync(stack, plan, CancellationToken.None);

        Assert.True(outcome.Passed, outcome.Describe());
        Assert.Equal([FaultKind.Server, FaultKind.Server, FaultKind.Server, FaultKind.Postgres, FaultKind.Azurite], outcome.Faults.Select(f => f.Kind).Order());
        // The faults reached the clients: streams broke and were resumed.
        Assert.True(outcome.Streams.Sum(s => s.Connections) > plan.Runs, outcome.Describe());
    }
}
