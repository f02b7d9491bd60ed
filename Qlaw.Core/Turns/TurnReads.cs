using Microsoft.EntityFrameworkCore.Metadata;
using Npgsql;
using Qlaw.Contracts;
using Qlaw.Core.Orchestration;
using Qlaw.Core.RunStore;
using Qlaw.Core.Tools;
using Qlaw.Data;
using Qlaw.Data.Runs;

namespace Qlaw.Core.Turns;

/// <summary>
/// What a turn reads under the run's lock, sent in the lock's round trip (<see cref="RunLog.OpenAsync{T}"/>): to begin,
/// the run with its workflow and the run's steps so far; to complete, the attempt's step, the handoff requested
/// through the API that waits, if any, and the run's token count. Step and tool call rows are read by EF Core's model
/// of them.
/// </summary>
internal sealed class TurnReads(IModel model)
{
    private readonly EntityRows<StepEntity> _steps = EntityRows.Of<StepEntity>(model);
    private readonly EntityRows<ToolCallEntity> _calls = EntityRows.Of<ToolCallEntity>(model);

    /// <summary>The run as a turn begins it: whether it still runs, who drives it, its task and its workflow.</summary>
    public sealed record RunForTurn(RunStatus Status, string? EntityId, string Input, string Config, long TokensUsed);

    public NpgsqlBatchCommand[] Begin(Guid runId, int step) =>
    [
        RunLog.Command("SELECT r.status, r.entity_id, r.input, w.config, r.tokens_used FROM runs r JOIN workflows w ON w.id = r.workflow_id WHERE r.id = $1", runId),
        RunLog.Command($"SELECT {_steps.Columns} FROM steps WHERE run_id = $1 AND index <= $2", runId, step),
        RunLog.Command($"SELECT {_calls.Columns} FROM tool_calls WHERE run_id = $1 AND step_index = $2 ORDER BY id", runId, step),
    ];

    /// <summary>The run (null when there is none), its steps, and the tool calls recorded for the step (to replay).</summary>
    public async Task<(RunForTurn? Run, List<StepEntity> Steps, List<ToolCallRecord> Calls)> ReadBeginAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        if (!await reader.ReadAsync(cancellationToken))
        {
            return (null, [], []);
        }

        var run = new RunForTurn(QlawJson.ParseEnum<RunStatus>(reader.GetString(0)), NullableString(reader, 1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4));
        await reader.NextResultAsync(cancellationToken);
        var stepRows = await ReadStepsAsync(reader, cancellationToken);
        await reader.NextResultAsync(cancellationToken);
        var calls = new List<ToolCallRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            calls.Add(ToolCallRecord.Of(_calls.Read(reader)));
        }

        return (run, stepRows, calls);
    }

    public NpgsqlBatchCommand[] Complete(Guid runId, long stepId) =>
    [
        RunLog.Command($"SELECT {_steps.Columns} FROM steps WHERE id = $1", stepId),
        RunLog.Command("SELECT id, to_agent, with_return, reason FROM handoffs WHERE run_id = $1 AND resolved_at IS NULL ORDER BY id LIMIT 1", runId),
        RunLog.Command("SELECT tokens_used FROM runs WHERE id = $1", runId),
    ];

    /// <summary>The attempt's step, a handoff that waits, and the tokens the run has used so far.</summary>
    public async Task<(StepEntity Step, PendingHandoff? Handoff, long TokensUsed)> ReadCompleteAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var step = (await ReadStepsAsync(reader, cancellationToken)).Single();
        await reader.NextResultAsync(cancellationToken);
        var handoff = await reader.ReadAsync(cancellationToken)
            ? new PendingHandoff(reader.GetInt64(0), reader.GetString(1), reader.GetBoolean(2), NullableString(reader, 3))
            : null;
        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (step, handoff, reader.GetInt64(0));
    }

    private async Task<List<StepEntity>> ReadStepsAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var rows = new List<StepEntity>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(_steps.Read(reader));
        }

        return rows;
    }

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
