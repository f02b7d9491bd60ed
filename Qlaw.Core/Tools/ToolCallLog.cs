using Qlaw.Contracts;
using Qlaw.Data.Runs;

namespace Qlaw.Core.Tools;

/// <summary>A tool call as its record holds it (<c>tool_calls</c>).</summary>
public sealed record ToolCallRecord(
    long Id, int Step, string CallId, string Tool, string Arguments, ToolCallStatus Status, string? Result = null, bool IsError = false, string? DecisionReason = null)
{
    /// <summary>The record of a <c>tool_calls</c> row.</summary>
    public static ToolCallRecord Of(ToolCallEntity row) =>
        new(row.Id, row.StepIndex, row.CallId, row.Tool, row.Arguments, row.Status, row.Result, row.IsError, row.DecisionReason);
}

/// <summary>
/// Where a running turn records its tool calls: before a call runs, and when it returns. Every write holds only while
/// the turn's attempt still runs; once it was cancelled or superseded, a write throws and the turn stops.
/// </summary>
public interface IToolCallLog
{
    /// <summary>Records a new call (<see cref="ToolCallStatus.Running"/> or <see cref="ToolCallStatus.AwaitingApproval"/>) and returns it with its id.</summary>
    Task<ToolCallRecord> CalledAsync(ToolCallRecord record, string? reason, CancellationToken cancellationToken);

    /// <summary>Moves a recorded call to <paramref name="record"/>'s status (running again, uncertain, awaiting approval).</summary>
    Task MarkAsync(ToolCallRecord record, CancellationToken cancellationToken);

    /// <summary>Records a call's result (<see cref="ToolCallStatus.Completed"/>).</summary>
    Task CompletedAsync(ToolCallRecord record, TimeSpan duration, CancellationToken cancellationToken);
}
