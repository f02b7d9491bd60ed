using System.Text;
using Npgsql;
using Qlaw.Contracts.Runs;
using Qlaw.Core.Agents;
using Qlaw.Core.Streaming;

namespace Qlaw.Core.Journal;

/// <summary>
/// Appends one attempt's text deltas to the run log: the first at once, the rest batched by a short time window so a
/// fast model does not write a row per token. Each batch goes through <see cref="RunLog.AppendWhileRunningAsync"/>:
/// under the run's lock, and only while the attempt is still running — once it is cancelled or superseded the sink
/// throws <see cref="AttemptStoppedException"/> and the model call ends. What the window still holds when the model is
/// done (<see cref="TakeTail"/>) is written with the turn's outcome, in the same commit. The first text commits with
/// the attempt's own row when that is still pending (<see cref="PendingAttempt"/>).
/// </summary>
/// <remarks>
/// A turn's text is capped at <paramref name="maxChars"/>: a model (or an endpoint) that streams past it is stopped and
/// the turn fails permanently (<c>turn_too_long</c>), so neither the turn's buffer nor the event log grows without end.
/// </remarks>
public sealed class TurnTextSink(
    NpgsqlDataSource dataSource, RunEventHub hub, TimeProvider clock, int windowMs, int maxChars, AgentTurnContext turn, PendingAttempt attempt) : ITurnTextSink
{
    private readonly StringBuilder _pending = new();
    private readonly StringBuilder _text = new();
    private long _windowStart = -1;

    public string Text => _text.ToString();

    public int Length => _text.Length;

    public async Task AppendAsync(string? delta, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(delta))
        {
            return;
        }

        if (_text.Length + delta.Length > maxChars)
        {
            await FlushAsync(cancellationToken);
            throw new PermanentAgentException(
                $"The turn's text passed the server's cap of {maxChars} characters (Limits:MaxTurnChars); the model call was stopped.", code: RunErrorCodes.TurnTooLong);
        }

        var first = _text.Length == 0;
        _text.Append(delta);
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

    /// <summary>The text appended since the last write, taken out of the sink; null when there is none.</summary>
    public string? TakeTail()
    {
        if (_pending.Length == 0)
        {
            return null;
        }

        var tail = _pending.ToString();
        _pending.Clear();
        return tail;
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_pending.Length == 0)
        {
            return;
        }

        var row = RunEvents.Delta(turn.RunId, turn.Step, turn.Attempt, turn.Agent.Name, _pending.ToString(), clock.GetUtcNow());
        _pending.Clear();
        _windowStart = -1;
        if (await attempt.CommitAsync(row))
        {
            return;
        }

        if (!await RunLog.AppendWhileRunningAsync(dataSource, hub, attempt.StepId, row, cancellationToken))
        {
            throw new AttemptStoppedException();
        }
    }
}
