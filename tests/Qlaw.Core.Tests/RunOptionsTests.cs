using Microsoft.DurableTask;
using Qlaw.Contracts;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Limits;
using Qlaw.Core.Orchestration;
using Qlaw.Core.Routing;

namespace Qlaw.Core.Tests;

/// <summary>A run's routing plan: the workflow's settings over the server's defaults.</summary>
public sealed class RunOptionsTests
{
    private static readonly WorkflowDefinition Workflow = new()
    {
        Name = "slow-retry",
        StartAgent = "planner",
        Agents = [new() { Name = "planner", Role = AgentRole.Planner }],
        Retry = new() { FirstIntervalMs = 60_000 },
    };

    [Fact]
    public void A_first_retry_wait_over_the_default_longest_raises_the_longest_so_the_policy_can_retry()
    {
        var retry = new RunOptions().PlanFor(Workflow, new LimitsOptions()).Retry;

        Assert.Equal(60_000, retry.FirstIntervalMs);
        Assert.Equal(60_000, retry.MaxIntervalMs);

        // What the orchestrator builds from it (a longest wait shorter than the first is refused there).
        var policy = new RetryPolicy(
            retry.MaxAttempts, TimeSpan.FromMilliseconds(retry.FirstIntervalMs), retry.BackoffCoefficient, TimeSpan.FromMilliseconds(retry.MaxIntervalMs));
        Assert.Equal(TimeSpan.FromMinutes(1), policy.MaxRetryInterval);
    }

    [Fact]
    public void Server_defaults_fill_what_the_workflow_leaves_out()
    {
        var retry = new RunOptions().PlanFor(Workflow with { Retry = null }, new LimitsOptions()).Retry;

        Assert.Equal(new RetrySettings(3, 500, 2.0, 30_000), retry);
    }
}
