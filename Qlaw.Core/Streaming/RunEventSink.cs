using System.Text;
using Npgsql;
using NpgsqlTypes;
using Qlaw.Data.Runs;

namespace Qlaw.Core.Streaming;

/// <summary>Options of the event stream (section <c>Streaming</c>).</summary>
public sealed class StreamingOptions
{
    /// <summary>
    /// Text deltas are batched this long before they are written (and streamed); 0 writes each one. A turn's first
    /// delta is always written at once, so that a reader sees the agent start without waiting a window.
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(0, 1000)]
    public int DeltaWindowMs { get; set; } = 15;

    /// <summary>An idle stream sends a comment this often so that proxies and clients keep it open.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 300)]
    public int HeartbeatSeconds { get; set; } = 15;
}

/// <summary>
/// Appends one turn's text deltas to <c>run_events</c>: the first at once, the rest batched by a short time window so a
/// fast model does not write a row per token. Only the run's active attempt writes, so ids within a run commit in order.
/// </summary>
public sealed class RunEventSink(NpgsqlDataSource dataSource, TimeProvider clock, int windowMs, Guid runId, int step, int attempt, string agent)
{
    private readonly StringBuilder _pending = new();
    private long _windowStart = -1;

    /// <summary>All text appended so far (the turn's output).</summary>
    public StringBuilder Text { get; } = new();

    public async Task AppendAsync(string? delta, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(delta))
        {
            return;
        }

        var first = Text.Length == 0;
        Text.Append(delta);
        _pending.Append(delta);
        if (first)
        {
            await FlushAsync(cancellationToken);
            return;
        }

        var now = clock.GetTimestamp();
        if (_windowStart < 0)
        {
            _windowStart = now;
        }

        if (clock.GetElapsedTime(_windowStart, now).TotalMilliseconds >= windowMs)
        {
            await FlushAsync(cancellationToken);
        }
    }

    /// <summary>Writes what is buffered.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_pending.Length == 0)
        {
            return;
        }

        var row = RunEvents.Delta(runId, step, attempt, agent, _pending.ToString(), clock.GetUtcNow());
        _pending.Clear();
        _windowStart = -1;
        await InsertAsync(dataSource, row, cancellationToken);
    }

    internal static async Task InsertAsync(NpgsqlDataSource dataSource, RunEventEntity row, CancellationToken cancellationToken)
    {
        // One statement: the row and its notification commit together.
        await using var command = dataSource.CreateCommand(
            "WITH row AS (INSERT INTO run_events (run_id, type, data, step_index, attempt, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING run_id) " +
            $"SELECT pg_notify('{RunEventNotifications.Channel}', replace(run_id::text, '-', '')) FROM row");
        command.Parameters.Add(new() { Value = row.RunId });
        command.Parameters.Add(new() { Value = row.Type });
        command.Parameters.Add(new() { Value = row.Data, NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new() { Value = (object?)row.StepIndex ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        command.Parameters.Add(new() { Value = (object?)row.Attempt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        command.Parameters.Add(new() { Value = row.CreatedAt });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
