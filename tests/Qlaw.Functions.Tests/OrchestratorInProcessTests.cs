using System.Text.Json;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Qlaw.AppHost.LocalStack;
using Qlaw.Contracts;
using Qlaw.Contracts.Runs;
using Qlaw.Contracts.Workflows;
using Qlaw.Core;
using Qlaw.Core.Database;
using Qlaw.Core.Operations;
using Qlaw.Core.Routing;
using Qlaw.Core.RunStore;
using Qlaw.Core.Runs;
using Qlaw.Core.Workflows;
using Qlaw.Data;
using Qlaw.Functions.Orchestration;
using Qlaw.Testing;

namespace Qlaw.Functions.Tests;

/// <summary>
/// Core's orchestrator and activities run for real in the in-process Durable Task test host (an in-memory hub behind a
/// loopback gRPC sidecar) against a real PostgreSQL, with runs started by <see cref="RunCommands"/> through the
/// Functions host's own <see cref="DurableClientRunScheduler"/>.
/// </summary>
[Collection(StackCollectionDefinition.Name)]
public sealed class OrchestratorInProcessTests(QlawStackFixture stack)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Sample_workflow_runs_planner_coder_reviewer_back_to_coder_judge_and_completes()
    {
        await using var hub = await InProcessHub.StartAsync(stack);
        await hub.CreateWorkflowAsync(Samples.WorkflowJson("code-review"));

        var runId = await hub.StartRunAsync("code-review", "add two numbers");
        using var timeout = new CancellationTokenSource(Timeout);
        var instance = await hub.Client.WaitForInstanceCompletionAsync($"run-{runId:N}", getInputsAndOutputs: true, timeout.Token);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, instance.RuntimeStatus);
        Assert.Equal("completed", instance.ReadOutputAs<string>());
        await using var db = hub.CreateDbContext();
        var steps = await db.Steps.Where(s => s.RunId == runId).OrderBy(s => s.Index).ThenBy(s => s.Attempt)
            .Select(s => $"{s.Index}:{s.Agent}:{s.Attempt}:{s.Status}").ToListAsync();
        Assert.Equal(["0:planner:1:Completed", "1:coder:1:Completed", "2:reviewer:1:Completed", "3:coder:1:Completed", "4:judge:1:Completed"], steps);
        var handoffs = await db.Handoffs.Where(h => h.RunId == runId).OrderBy(h => h.Id).ToListAsync();
        Assert.Equal(
            ["planner>coder", "coder>reviewer (with return)", "reviewer>coder", "coder>judge"],
            handoffs.Select(h => $"{h.FromAgent}>{h.ToAgent}{(h.WithReturn ? " (with return)" : "")}"));
        // The reviewer's return pops the coder off the origin stack; the reason is the one its tool call gave.
        Assert.Equal($"scripted: {RouteCall.ReturnToPrevious}", handoffs[2].Reason);
        Assert.All(handoffs, h => Assert.NotNull(h.ResolvedAt));
        var transitions = await db.AuditLogs.Where(a => a.RunId == runId && (a.Type == AuditTypes.Handoff || a.Type == AuditTypes.Return))
            .OrderBy(a => a.Id).Select(a => a.Type).ToListAsync();
        Assert.Equal([AuditTypes.Handoff, AuditTypes.Handoff, AuditTypes.Return, AuditTypes.Handoff], transitions);
        var run = await db.Runs.SingleAsync(r => r.Id == runId);
        Assert.Equal((RunStatus.Completed, "judge", "[]", $"run-{runId:N}", null), (run.Status, run.CurrentAgent, run.OriginStack, run.EntityId, run.LastError));
        Assert.True(run.StartedAt is not null && run.CompletedAt >= run.StartedAt);
    }

    [Fact]
    public async Task The_recovery_timers_hub_purge_removes_ended_orchestrations_through_the_functions_client_and_keeps_waiting_ones()
    {
        await using var hub = await InProcessHub.StartAsync(stack, new() { ["Retention:HubHistorySeconds"] = "1" });
        await hub.CreateWorkflowAsync(Samples.WorkflowJson("code-review"));
        await hub.CreateWorkflowAsync(Samples.WorkflowJson("human-in-the-loop"));
        var ended = await hub.StartRunAsync("code-review", "add two numbers");
        var waiting = await hub.StartRunAsync("human-in-the-loop", "add two numbers");
        using var timeout = new CancellationTokenSource(Timeout);
        await hub.Client.WaitForInstanceCompletionAsync($"run-{ended:N}", getInputsAndOutputs: false, timeout.Token);
        while (await hub.StatusAsync(waiting) != RunStatus.AwaitingInput)
        {
            await Task.Delay(100, timeout.Token);
        }

        // Both instances were created more than HubHistorySeconds ago.
        await Task.Delay(TimeSpan.FromSeconds(1.5), timeout.Token);
        var purged = await hub.PurgeHubHistoryAsync();

        Assert.Equal(1, purged);
        Assert.Null(await hub.Client.GetInstanceAsync($"run-{ended:N}", getInputsAndOutputs: false, timeout.Token));
        var kept = await hub.Client.GetInstanceAsync($"run-{waiting:N}", getInputsAndOutputs: false, timeout.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Running, kept?.RuntimeStatus);
        Assert.Equal(RunStatus.Completed, await hub.StatusAsync(ended));
    }

    /// <summary>
    /// Qlaw.Functions' services with the in-process hub in place of Durable Functions: its client stands in for the
    /// <c>[DurableClient]</c> binding the HTTP triggers receive, and its worker runs Core's orchestrator and activities.
    /// </summary>
    private sealed class InProcessHub(IHost host, string postgres) : IAsyncDisposable
    {
        public DurableTaskClient Client => host.Services.GetRequiredService<DurableTaskClient>();

        public static async Task<InProcessHub> StartAsync(QlawStackFixture stack, Dictionary<string, string?>? settings = null)
        {
            var postgres = await stack.CreateDatabaseAsync();
            var builder = Host.CreateApplicationBuilder();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:Postgres"] = postgres,
                ["ConnectionStrings:DurableStorage"] = stack.Azurite.ConnectionString,
            }.Concat(settings ?? []));
            builder.AddQlawFunctions();
            builder.Services.AddInMemoryDurableTask(
                registry =>
                {
                    foreach (var (name, type) in QlawOrchestration.Orchestrators)
                    {
                        registry.AddOrchestrator(name, type);
                    }

                    foreach (var (name, type) in QlawOrchestration.Activities)
                    {
                        registry.AddActivity(name, type);
                    }
                },
                new InMemoryDurableTaskOptions { Port = Network.FreePort() });
            var host = builder.Build();
            await DatabaseInitializer.MigrateAsync(host.Services.GetRequiredService<IServiceScopeFactory>(), CancellationToken.None);
            await host.StartAsync();
            return new InProcessHub(host, postgres);
        }

        public async Task CreateWorkflowAsync(string json)
        {
            await using var scope = host.Services.CreateAsyncScope();
            var definition = JsonSerializer.Deserialize<WorkflowDefinition>(json, QlawJson.Options)!;
            Assert.IsType<CreateWorkflowResult.Created>(await scope.ServiceProvider.GetRequiredService<WorkflowCatalog>().CreateAsync(definition, CancellationToken.None));
        }

        public async Task<Guid> StartRunAsync(string workflow, string input)
        {
            await using var scope = host.Services.CreateAsyncScope();
            // What an HTTP trigger does with its [DurableClient] binding before calling Core.
            scope.ServiceProvider.GetRequiredService<DurableClientAccessor>().Client = Client;
            var started = await scope.ServiceProvider.GetRequiredService<RunCommands>()
                .StartAsync(workflow, new StartRunRequest { Input = input }, null, "127.0.0.1", CancellationToken.None);
            return Assert.IsType<RunCommandResult.Accepted>(started).Run.Id;
        }

        /// <summary>What the recovery timer's last step does, with the client its binding would give it.</summary>
        public async Task<int> PurgeHubHistoryAsync()
        {
            await using var scope = host.Services.CreateAsyncScope();
            scope.ServiceProvider.GetRequiredService<DurableClientAccessor>().Client = Client;
            return await scope.ServiceProvider.GetRequiredService<RunRetention>().PurgeHubHistoryOnceAsync(CancellationToken.None);
        }

        public async Task<RunStatus> StatusAsync(Guid runId)
        {
            await using var db = CreateDbContext();
            return await db.Runs.Where(r => r.Id == runId).Select(r => r.Status).SingleAsync();
        }

        /// <summary>A context of its own on the run's database, for asserting rows as they are now.</summary>
        public QlawDbContext CreateDbContext() => new(new DbContextOptionsBuilder<QlawDbContext>().UseQlawPostgres(postgres).Options);

        public async ValueTask DisposeAsync()
        {
            await host.StopAsync();
            host.Dispose();
        }
    }
}
