using Microsoft.EntityFrameworkCore.Metadata;
using Npgsql;
using Qlaw.Core.Orchestration;
using Qlaw.Core.RunStore;
using Qlaw.Core.Tools;
using Qlaw.Data;
using Qlaw.Data.Runs;
using Qlaw.Data.Workflows;

namespace Qlaw.Core.Turns;

/// <summary>
/// What a turn reads under the run's lock, sent in the lock's round trip (<see cref="RunLog.OpenAsync{T}"/>): to begin,
/// the run, its workflow and the run's steps so far; to complete, the attempt's step, the handoff requested through the
/// API that waits, if any, and the run's token count. Every row is read by EF Core's model of its entity (<see cref="EntityRows{T}"/>).
/// </summary>
internal sealed class TurnReads(IModel model)
{
    private readonly EntityRows<RunEntity> _runs = EntityRows.Of<RunEntity>(model);
    private readonly EntityRows<WorkflowEntity> _workflows = EntityRows.Of<WorkflowEntity>(model);
    private readonly EntityRows<StepEntity> _steps = EntityRows.Of<StepEntity>(model);
    private readonly EntityRows<ToolCallEntity> _calls = EntityRows.Of<ToolCallEntity>(model);
    private readonly EntityRows<HandoffEntity> _handoffs = EntityRows.Of<HandoffEntity>(model);

    public NpgsqlBatchCommand[] Begin(Guid runId, int step) =>
    [
        RunLog.Command($"SELECT {_runs.Columns} FROM runs WHERE id = $1", runId),
        RunLog.Command($"SELECT {_workflows.Columns} FROM workflows WHERE id = (SELECT workflow_id FROM runs WHERE id = $1)", runId),
        RunLog.Command($"SELECT {_steps.Columns} FROM steps WHERE run_id = $1 AND index <= $2", runId, step),
        RunLog.Command($"SELECT {_calls.Columns} FROM tool_calls WHERE run_id = $1 AND step_index = $2 ORDER BY id", runId, step),
    ];

    /// <summary>
    /// The run (null when there is none) and its workflow's definition, its steps, and the tool calls recorded for the
    /// step (to replay).
    /// </summary>
    public async Task<(RunEntity? Run, string Config, List<StepEntity> Steps, List<ToolCallRecord> Calls)> ReadBeginAsync(
        NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var run = (await ReadAsync(reader, _runs, cancellationToken)).SingleOrDefault();
        var workflows = await NextAsync(reader, _workflows, cancellationToken);
        var steps = await NextAsync(reader, _steps, cancellationToken);
        var calls = await NextAsync(reader, _calls, cancellationToken);
        return (run, run is null ? "" : workflows.Single().Config, steps, [.. calls.Select(ToolCallRecord.Of)]);
    }

    public NpgsqlBatchCommand[] Complete(Guid runId, long stepId) =>
    [
        RunLog.Command($"SELECT {_steps.Columns} FROM steps WHERE id = $1", stepId),
        RunLog.Command($"SELECT {_handoffs.Columns} FROM handoffs WHERE run_id = $1 AND resolved_at IS NULL ORDER BY id LIMIT 1", runId),
        RunLog.Command("SELECT tokens_used FROM runs WHERE id = $1", runId),
    ];

    /// <summary>The attempt's step, a handoff that waits, and the tokens the run has used so far (not the whole run: its input may be long).</summary>
    public async Task<(StepEntity Step, PendingHandoff? Handoff, long TokensUsed)> ReadCompleteAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var step = (await ReadAsync(reader, _steps, cancellationToken)).Single();
        var handoff = (await NextAsync(reader, _handoffs, cancellationToken)).SingleOrDefault();
        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (step, handoff is null ? null : new PendingHandoff(handoff.Id, handoff.ToAgent, handoff.WithReturn, handoff.Reason), reader.GetInt64(0));
    }

    private static async Task<List<T>> NextAsync<T>(NpgsqlDataReader reader, EntityRows<T> rows, CancellationToken cancellationToken)
        where T : class
    {
        await reader.NextResultAsync(cancellationToken);
        return await ReadAsync(reader, rows, cancellationToken);
    }

    private static async Task<List<T>> ReadAsync<T>(NpgsqlDataReader reader, EntityRows<T> rows, CancellationToken cancellationToken)
        where T : class
    {
        var read = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            read.Add(rows.Read(reader));
        }

        return read;
    }
}
