using System.Text.Json;

namespace Qlaw.Contracts.Runs;

/// <summary>Where to follow a run.</summary>
public sealed record RunLinks(string Status, string Responses, string Audit);

/// <summary>
/// Answer to starting (or forking) a run: it is accepted and queued (or the run an earlier request with the same key
/// made); a fork names the run and step it was forked from.
/// </summary>
public sealed record RunAccepted(Guid Id, Guid WorkflowId, RunStatus Status, RunLinks Links, Guid? ForkedFrom = null, int? FromStep = null);

/// <summary>
/// One attempt of one agent turn; a running one that waits for its model says why (<see cref="StepWaiting"/>). In a
/// run's status the output is cut to <c>Limits:StatusOutputChars</c> (<paramref name="OutputTruncated"/>);
/// <c>GET /v1/runs/{id}/steps</c> pages through the whole outputs.
/// </summary>
public sealed record StepView(
    int Index,
    int Attempt,
    string Agent,
    StepStatus Status,
    DateTimeOffset StartedAt,
    DateTimeOffset? CompletedAt,
    double? DurationMs,
    string? Output,
    string? Error,
    string? ErrorCode = null,
    StepWaiting? Waiting = null,
    bool? OutputTruncated = null);

/// <summary>
/// A running attempt waiting for its model since <paramref name="Since"/>: <c>calls</c> (every call its endpoint allows
/// at once is taken), <c>rate_limit</c> (the provider's quota holds the endpoint back) or <c>retry_after</c> (the provider
/// answered <paramref name="Status"/> and asked for <paramref name="WaitMs"/>).
/// </summary>
public sealed record StepWaiting(string Reason, string Endpoint, DateTimeOffset Since, double? WaitMs = null, int? Status = null);

/// <summary>
/// Snapshot of a run: state, position, origin stack, the chain of control (<c>return_to_previous</c> goes back along it
/// when the stack is empty) and every step attempt. <c>last_error_code</c> is one of <see cref="RunErrorCodes"/>. A fork
/// names the run it was forked from and the last step it shares with it.
/// </summary>
public sealed record RunStatusResponse(
    Guid Id,
    Guid WorkflowId,
    RunStatus Status,
    int CurrentStep,
    string? CurrentAgent,
    IReadOnlyList<string> OriginStack,
    IReadOnlyList<StepView> Steps,
    string? LastError,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? CompletedAt,
    string? EntityId,
    RunLinks Links,
    IReadOnlyList<string>? Chain = null,
    string? LastErrorCode = null,
    long TokensUsed = 0,
    Guid? ForkedFrom = null,
    int? FromStep = null);

/// <summary>One audit entry of a run.</summary>
public sealed record AuditEntry(long Id, Guid? RunId, string Type, JsonElement Detail, DateTimeOffset CreatedAt);

/// <summary>A page of audit entries, oldest first; the next page starts <c>?after={last_id}</c>.</summary>
public sealed record AuditPage(IReadOnlyList<AuditEntry> Data, bool HasMore, long? LastId);

/// <summary>Answer to a handoff request: recorded, applied at the next turn boundary.</summary>
public sealed record HandoffAccepted(Guid RunId, long HandoffId, string Status);
