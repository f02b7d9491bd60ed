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
using Qlaw.Core.Database;
using Qlaw.Core.Orchestration;
using Qlaw.Core.Runs;
using Qlaw.Core.Workflows;
using Qlaw.Data;
using Qlaw.Functions.Orchestration;
using Qlaw.Testing;

namespace Qlaw.Functions.Tests;

/// <summary>
/// Core's orchestrator and activities, as Qlaw.Functions registers them, run for real in the in-process Durable Task
/// test host (an in-memory hub behind a loopback gRPC sidecar) against a real PostgreSQL. Runs are started by
/// <see cref="RunCommands"/> through the Functions host's own <see cref="DurableClientRunScheduler"/>.
/// </summary>
[Collection(StackCollectionDefinition.Name)]
public sealed class OrchestratorInProcessTests(QlawStackFixture stack)
{
    [Fact]
    public async Task Sample_workflow_runs_planner_coder_reviewer_back_to_coder_judge_and_completes()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var host = await StartHostAsync(timeout.Token);
        try
        {
            await using var scope = host.Services.CreateAsyncScope();
            var definition = JsonSerializer.Deserialize<WorkflowDefinition>(Samples.WorkflowJson("code-review"), QlawJson.Options)!;
            Assert.IsType<CreateWorkflowResult.Created>(await scope.ServiceProvider.GetRequiredService<WorkflowCatalog>().CreateAsync(definition, timeout.Token));

            var started = await scope.ServiceProvider.GetRequiredService<RunCommands>()
                .StartAsync("code-review", new StartRunRequest { Input = "add two numbers" }, null, timeout.Token);
            var runId = Assert.IsType<RunCommandResult.Accepted>(started).Run.Id;
            var instance = await host.Services.GetRequiredService<DurableTaskClient>()
                .WaitForInstanceCompletionAsync($"run-{runId:N}", getInputsAndOutputs: true, timeout.Token);

            Assert.Equal(OrchestrationRuntimeStatus.Completed, instance.RuntimeStatus);
            Assert.Equal("completed", instance.ReadOutputAs<string>());
            var db = scope.ServiceProvider.GetRequiredService<QlawDbContext>();
            var steps = await db.Steps.Where(s => s.RunId == runId).OrderBy(s => s.Index).ThenBy(s => s.Attempt)
                .Select(s => $"{s.Index}:{s.Agent}:{s.Attempt}:{s.Status}").ToListAsync(timeout.Token);
            Assert.Equal(["0:planner:1:Completed", "1:coder:1:Completed", "2:reviewer:1:Completed", "3:coder:1:Completed", "4:judge:1:Completed"], steps);
            var handoffs = await db.Handoffs.Where(h => h.RunId == runId).OrderBy(h => h.Id)
                .Select(h => new { h.FromAgent, h.ToAgent, h.WithReturn, h.Reason, Resolved = h.ResolvedAt != null }).ToListAsync(timeout.Token);
            Assert.Equal(
                ["planner>coder", "coder>reviewer (with return)", "reviewer>coder", "coder>judge"],
                handoffs.Select(h => $"{h.FromAgent}>{h.ToAgent}{(h.WithReturn ? " (with return)" : "")}"));
            Assert.Equal(RouteCall.ReturnToPrevious, handoffs[2].Reason);
            Assert.All(handoffs, h => Assert.True(h.Resolved));
            var run = await db.Runs.SingleAsync(r => r.Id == runId, timeout.Token);
            Assert.Equal((RunStatus.Completed, 4, "judge", "[]", $"run-{runId:N}", null),
                (run.Status, run.CurrentStep, run.CurrentAgent, run.OriginStack, run.EntityId, run.LastError));
            Assert.NotNull(run.StartedAt);
            Assert.NotNull(run.CompletedAt);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
            host.Dispose();
        }
    }

    // Qlaw.Functions' services with the in-process hub in place of Durable Functions: its client stands in for the
    // [DurableClient] binding the HTTP triggers receive, and its worker runs Core's orchestrator and activities.
    private async Task<IHost> StartHostAsync(CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = await stack.CreateDatabaseAsync(),
            ["ConnectionStrings:DurableStorage"] = stack.Azurite.ConnectionString,
        });
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
        builder.Services.AddScoped(sp => new DurableClientAccessor { Client = sp.GetRequiredService<DurableTaskClient>() });
        var host = builder.Build();
        await DatabaseInitializer.MigrateAsync(host.Services.GetRequiredService<IServiceScopeFactory>(), cancellationToken);
        await host.StartAsync(cancellationToken);
        return host;
    }
}
