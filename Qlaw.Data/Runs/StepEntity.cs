using Qlaw.Contracts;

namespace Qlaw.Data.Runs;

/// <summary>Row of <c>steps</c>: one attempt of one agent turn, keyed by (run, index, attempt) so a retry never duplicates it.</summary>
public sealed class StepEntity
{
    public long Id { get; set; }

    public Guid RunId { get; set; }

    /// <summary>0-based position of the turn in the run.</summary>
    public int Index { get; set; }

    /// <summary>1-based attempt of this turn.</summary>
    public int Attempt { get; set; }

    public required string Agent { get; set; }

    public string? Input { get; set; }

    public string? Output { get; set; }

    public StepStatus Status { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public DateTimeOffset? CompletedAt { get; set; }

    /// <summary>Last sign of life of a running attempt (a long model call updates it), so a watchdog can tell slow from dead.</summary>
    public DateTimeOffset? HeartbeatAt { get; set; }

    /// <summary>Reference to the state this step can be resumed from (orchestration instance and step).</summary>
    public string? CheckpointRef { get; set; }

    public string? Error { get; set; }

    /// <summary>Stable code of <see cref="Error"/> (<c>RunErrorCodes</c>).</summary>
    public string? ErrorCode { get; set; }

    /// <summary>The agent's routing decision of a completed step (<c>jsonb</c>), replayed if the step is run again.</summary>
    public string? Decision { get; set; }

    /// <summary>What a running attempt waits for before its model call goes (<c>jsonb</c>, a <c>StepWaiting</c>); null once the call went.</summary>
    public string? Waiting { get; set; }

    /// <summary>
    /// The routing state the turn began with (<c>jsonb</c>: agent, step, origin stack, chain, return counts), so a run
    /// can be forked from this step; null for steps recorded before forks existed.
    /// </summary>
    public string? RouteState { get; set; }
}
