namespace Qlaw.Contracts.Events;

/// <summary><c>run.created</c>: a run was created, and how (<c>via</c> <c>responses</c> for <c>/v1/responses</c>).</summary>
[RunEvent("run.created")]
public sealed record RunCreated(Guid WorkflowId, string Workflow, string? IdempotencyKey, string? Via = null, string? Conversation = null, string? FollowUpOf = null);

/// <summary><c>run.started</c>: the first turn began.</summary>
[RunEvent("run.started")]
public sealed record RunStarted(string Agent);

/// <summary><c>step.started</c> / <c>step.retrying</c>: an attempt began (a retry names the error before it).</summary>
[RunEvent("step.started", "step.retrying")]
public sealed record StepStarted(int Step, string Agent, int Attempt, string? PreviousError);

/// <summary><c>step.superseded</c>: an attempt left running by a crashed worker was replaced.</summary>
[RunEvent("step.superseded")]
public sealed record StepSuperseded(int Step, string Agent, int Attempt);

/// <summary><c>input.requested</c>: the run paused with a question.</summary>
[RunEvent("input.requested")]
public sealed record InputRequested(int Step, string Agent, string Prompt);

/// <summary><c>run.resumed</c>: <c>continue</c> moved a paused or dead-lettered run on.</summary>
[RunEvent("run.resumed")]
public sealed record RunResumed(RunStatus From, string? Input);

/// <summary><c>run.completed</c> / <c>run.failed</c>: the run ended.</summary>
[RunEvent("run.completed", "run.failed")]
public sealed record RunFinished(int Steps, string? Reason, string? Code);

/// <summary><c>run.cancelled</c>: the run was cancelled from the status it had.</summary>
[RunEvent("run.cancelled")]
public sealed record RunCancelled(RunStatus From);

/// <summary><c>handoff.requested</c>: <c>POST /v1/runs/{id}/handoff</c> asked for a handoff at the next turn boundary.</summary>
[RunEvent("handoff.requested")]
public sealed record HandoffRequested(long HandoffId, string? From, string To, string? Reason, bool WithReturn);

/// <summary><c>run.recovered</c>: the reconciler re-drove a quiet run from PostgreSQL.</summary>
[RunEvent("run.recovered")]
public sealed record RunRecovered(string Reason, string PreviousInstance, string InstanceState, int Step, string? Agent);

/// <summary>
/// <c>run.forked</c> (on the source run) and <c>run.forked_from</c> (on the new run): <paramref name="ForkRunId"/> was
/// forked from <paramref name="SourceRunId"/> after step <paramref name="FromStep"/>, with <paramref name="Input"/> for the
/// next agent if given. <paramref name="DefinitionChanged"/> says the workflow's definition differs from the one the
/// source ran with (null when the source predates that record); the fork runs on the current one, as <paramref name="Note"/> says.
/// </summary>
[RunEvent("run.forked", "run.forked_from")]
public sealed record RunForked(Guid SourceRunId, Guid ForkRunId, int FromStep, string? Input, string NextAgent, bool? DefinitionChanged, string? Note, string? IdempotencyKey);

/// <summary>
/// <c>run.abandoned</c>: a dead-lettered run waited <paramref name="AfterSeconds"/> for <c>continue</c> and ended for good
/// with its last error (<paramref name="Code"/>); its orchestration is terminated.
/// </summary>
[RunEvent("run.abandoned")]
public sealed record RunAbandoned(int AfterSeconds, string? Code);
