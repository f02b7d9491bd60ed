using System.ComponentModel.DataAnnotations;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Limits;
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

    /// <summary>
    /// The routing plan of <paramref name="workflow"/>, with these defaults filled in and held under the server's
    /// <paramref name="limits"/> (a stored workflow may predate a lowered ceiling).
    /// </summary>
    /// <remarks>
    /// The longest wait is never shorter than the first (the retry policy refuses that, and the turn would never be
    /// retried): a workflow's first interval over the server's default longest one raises the longest to it.
    /// </remarks>
    public RoutingPlan PlanFor(WorkflowDefinition workflow, LimitsOptions limits)
    {
        var first = workflow.Retry?.FirstIntervalMs ?? FirstRetryIntervalMs;
        return new(
            workflow.Agents.ToDictionary(
                a => a.Name,
                a => new AgentEdges(a.Handoffs ?? [], a.Consults ?? [], a.DefaultNext)),
            workflow.StartAgent,
            Math.Min(workflow.Limits?.MaxSteps ?? WorkflowLimits.DefaultMaxSteps, limits.MaxSteps),
            workflow.Limits?.MaxReturns ?? WorkflowLimits.DefaultMaxReturns,
            new RetrySettings(
                Math.Min(workflow.Retry?.MaxAttempts ?? MaxAttempts, limits.MaxAttempts),
                first,
                workflow.Retry?.BackoffCoefficient ?? BackoffCoefficient,
                Math.Max(workflow.Retry?.MaxIntervalMs ?? MaxRetryIntervalMs, first)),
            Math.Min(workflow.Limits?.MaxTotalTokens ?? limits.MaxTotalTokens, limits.MaxTotalTokens),
            limits.MaxTurnChars);
    }
}
