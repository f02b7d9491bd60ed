using System.ComponentModel.DataAnnotations;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Routing;

namespace Qlaw.Core.Orchestration;

/// <summary>Defaults for runs whose workflow leaves them out (section <c>Runs</c>); read when a run is scheduled.</summary>
public sealed class RunOptions
{
    [Range(1, 20)]
    public int MaxAttempts { get; set; } = 3;

    [Range(1, 600_000)]
    public int FirstRetryIntervalMs { get; set; } = 500;

    [Range(1.0, 10.0)]
    public double BackoffCoefficient { get; set; } = 2.0;

    [Range(1, 3_600_000)]
    public int MaxRetryIntervalMs { get; set; } = 30_000;

    /// <summary>The routing plan of <paramref name="workflow"/>, with these defaults filled in.</summary>
    public RoutingPlan PlanFor(WorkflowDefinition workflow) => new(
        workflow.Agents.ToDictionary(
            a => a.Name,
            a => new AgentEdges(a.Handoffs ?? [], a.Consults ?? [], a.DefaultNext)),
        workflow.StartAgent,
        workflow.Limits?.MaxSteps ?? WorkflowLimits.DefaultMaxSteps,
        workflow.Limits?.MaxReturns ?? WorkflowLimits.DefaultMaxReturns,
        new RetrySettings(
            workflow.Retry?.MaxAttempts ?? MaxAttempts,
            workflow.Retry?.FirstIntervalMs ?? FirstRetryIntervalMs,
            workflow.Retry?.BackoffCoefficient ?? BackoffCoefficient,
            workflow.Retry?.MaxIntervalMs ?? MaxRetryIntervalMs));
}
