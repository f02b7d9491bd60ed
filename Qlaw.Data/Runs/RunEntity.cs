using Qlaw.Contracts;

namespace Qlaw.Data.Runs;

/// <summary>Row of <c>runs</c>: one execution of a workflow, explainable and resumable from this row alone.</summary>
public sealed class RunEntity
{
    public Guid Id { get; set; }

    public Guid WorkflowId { get; set; }

    public RunStatus Status { get; set; }

    /// <summary>The user's input that started the run.</summary>
    public required string Input { get; set; }

    /// <summary>Caller-supplied metadata as JSON (<c>jsonb</c>), if any.</summary>
    public string? Metadata { get; set; }

    /// <summary>A repeated start request with the same key returns this run.</summary>
    public string? IdempotencyKey { get; set; }

    /// <summary>SHA-256 (hex) of the <c>/v1/responses</c> request that made the run with <see cref="IdempotencyKey"/>: a reused key with another body is refused.</summary>
    public string? RequestHash { get; set; }

    /// <summary>The <c>/v1/responses</c> conversation the run belongs to, if any (its id as the client gave it).</summary>
    public string? ConversationId { get; set; }

    /// <summary>
    /// Who started the run through <c>/v1/responses</c> (a hash of the client's address and <c>User-Agent</c>), so that
    /// the same client's next message can answer it; null for runs started otherwise.
    /// </summary>
    public string? ClientKey { get; set; }

    /// <summary>The run was started through <c>/v1/responses</c> (the QLAW CLI's call).</summary>
    public bool StartedViaResponses { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset? CompletedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Index of the step being executed, or of the last one run.</summary>
    public int CurrentStep { get; set; }

    public string? CurrentAgent { get; set; }

    /// <summary>Snapshot of the origin stack (bottom first) as a JSON array (<c>jsonb</c>).</summary>
    public string OriginStack { get; set; } = "[]";

    /// <summary>Times work was returned to each agent, as a JSON object (<c>jsonb</c>).</summary>
    public string ReturnCounts { get; set; } = "{}";

    /// <summary>The chain of control (JSON array, bottom first): agents that passed control on and have not had it back.</summary>
    public string Chain { get; set; } = "[]";

    /// <summary>Durable orchestration instance id driving the run (<c>run-{id}</c>).</summary>
    public string? EntityId { get; set; }

    public string? LastError { get; set; }

    /// <summary>Stable code of <see cref="LastError"/> (<c>RunErrorCodes</c>).</summary>
    public string? LastErrorCode { get; set; }

    /// <summary>Tokens the run's completed turns used (input and output, as the model reported them): held against its budget.</summary>
    public long TokensUsed { get; set; }

    /// <summary>The run this one was forked from (<c>POST /v1/runs/{id}/fork</c>), if any; cleared when that run is deleted.</summary>
    public Guid? ForkedFrom { get; set; }

    /// <summary>The last step of <see cref="ForkedFrom"/> this run shares (copied with its history).</summary>
    public int? FromStep { get; set; }

    /// <summary>SHA-256 (hex) of the workflow's definition when the run was created, so a fork can tell it changed since.</summary>
    public string? DefinitionHash { get; set; }

    /// <summary>Address of the client that started the run, for the per-client cap on active runs; never returned.</summary>
    public string? Client { get; set; }
}
