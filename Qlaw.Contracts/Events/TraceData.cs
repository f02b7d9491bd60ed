namespace Qlaw.Contracts.Events;

/// <summary><c>ExecutorInvokedEvent</c>: an agent's turn (one attempt of one step) starts.</summary>
[RunEvent("ExecutorInvokedEvent")]
public sealed record ExecutorInvoked(int Step, int Attempt, string Agent);

/// <summary>
/// <c>ExecutorCompletedEvent</c> and the <c>step.completed</c> audit: the turn ended with a routing decision.
/// <c>truncated</c>: the model's answer was cut by its output token limit and it was asked to go on, once.
/// </summary>
[RunEvent("ExecutorCompletedEvent", "step.completed")]
public sealed record StepCompleted(
    int Step, string Agent, int Attempt, double DurationMs, string Decision, string? Target, long? InputTokens, long? OutputTokens, bool? Truncated = null);

/// <summary>
/// <c>ModelWaitingEvent</c> and the <c>model.waiting</c> audit: the turn waits before its model call goes — every call its
/// endpoint allows at once is taken (<c>calls</c>), the provider's quota holds the endpoint back (<c>rate_limit</c>), or
/// the provider answered 429/503 (<c>status</c>) and the call goes again after <c>wait_ms</c> (<c>retry_after</c>).
/// </summary>
[RunEvent("ModelWaitingEvent", "model.waiting")]
public sealed record ModelWaiting(int Step, string Agent, int Attempt, string Endpoint, string Reason, double? WaitMs, int? Status);

/// <summary>
/// <c>WorkflowWarningEvent</c> and the <c>route.ignored</c> audit: the model made several routing calls in one turn;
/// the one <c>followed</c> decides, the <c>ignored</c> ones are not followed (and the model is told so).
/// </summary>
[RunEvent("WorkflowWarningEvent", "route.ignored")]
public sealed record RouteIgnored(int Step, string Agent, string? Followed, IReadOnlyList<string> Ignored);

/// <summary><c>ExecutorFailedEvent</c> and the <c>step.failed</c> audit: an attempt failed; transient ones are retried.</summary>
[RunEvent("ExecutorFailedEvent", "step.failed")]
public sealed record StepFailed(int Step, string Agent, int Attempt, string Error, string Code, bool Transient);

/// <summary><c>HandoffEvent</c> and the <c>handoff</c> / <c>return</c> audits: control moved to another agent.</summary>
[RunEvent("HandoffEvent", "handoff", "return")]
public sealed record HandoffOccurred(
    int Step, string From, string To, string Kind, string? Reason, int StackDepth, IReadOnlyList<string> Stack, IReadOnlyList<string> Chain, long? HandoffId);

/// <summary><c>RequestInfoEvent</c>: an agent asks the user; the exact shape the QLAW CLI prints.</summary>
[RunEvent("RequestInfoEvent")]
public sealed record RequestInfoData(PendingRequest RequestInfo);

/// <summary>The pending request of a <see cref="RequestInfoData"/>; its id is <c>req_{run}_{step}</c>.</summary>
public sealed record PendingRequest(string RequestId, string SourceExecutorId, string RequestType, string ResponseType, PendingRequestData Data);

/// <summary>The prompt and the conversation so far.</summary>
public sealed record PendingRequestData(string Prompt, IReadOnlyList<ConversationMessage> Conversation, string AwaitingAgentId, string SourceExecutorId);

/// <summary>One message of a conversation: the user's (<c>author_name</c> absent) or an agent's.</summary>
public sealed record ConversationMessage(string Role, string? AuthorName, string Text);

/// <summary><c>WorkflowOutputEvent</c>: the run completed with the last agent's text.</summary>
[RunEvent("WorkflowOutputEvent")]
public sealed record WorkflowOutput(int Steps, string? Output);

/// <summary><c>WorkflowErrorEvent</c> of a run that failed (not dead-lettered).</summary>
[RunEvent("WorkflowErrorEvent")]
public sealed record WorkflowError(string Error, string Code, int Step);

/// <summary>
/// The <c>run.dead_lettered</c> audit and its <c>WorkflowErrorEvent</c>: the turn's retries ran out, the run waits
/// for <c>continue</c>.
/// </summary>
[RunEvent("WorkflowErrorEvent", "run.dead_lettered")]
public sealed record RunDeadLettered(string Error, string Code, int Attempts, bool Permanent, int Step, string Agent, int? LastGoodStep);

/// <summary><c>WorkflowWarningEvent</c> and the <c>route.rejected</c> audit: a routing call that could not be followed.</summary>
[RunEvent("WorkflowWarningEvent", "route.rejected")]
public sealed record RouteRejected(int Step, string? Agent, string Reason);

/// <summary>
/// <c>InputAnsweredEvent</c> and the <c>input.answered</c> audit: a <c>/v1/responses</c> or <c>send_responses</c> call
/// answered the run's pending request, and how it found the run (<c>via</c>: <c>previous_response_id</c>,
/// <c>conversation</c>, <c>client</c> or <c>send_responses</c>). The audit alone keeps the call's Idempotency-Key, body
/// hash and where its stream started (<c>stream_after</c>), so that a retry gets the same stream.
/// </summary>
[RunEvent("InputAnsweredEvent", "input.answered")]
public sealed record InputAnswered(
    string ResponseId, int Step, string Via, string? Conversation, string? Client, string? IdempotencyKey = null, string? RequestHash = null, long? StreamAfter = null);

/// <summary>
/// <c>ToolCallEvent</c> and the <c>tool.called</c> audit: an agent called an MCP tool (<c>server/tool</c>), recorded
/// before it runs (<c>running</c>) or while it waits for a person (<c>awaiting_approval</c>); <c>arguments</c> is the
/// JSON text the model gave. On <c>/v1/responses</c> it is also framed as a <c>function_call</c> output item.
/// </summary>
[RunEvent("ToolCallEvent", "tool.called")]
public sealed record ToolCalled(int Step, string Agent, int Attempt, string CallId, string Tool, string Arguments, string Status, string? Reason = null);

/// <summary>
/// <c>ToolResultEvent</c> and the <c>tool.completed</c> audit: the tool answered (<c>is_error</c>: with an error, a timeout
/// or a call past the turn's bounds, which the model sees as its result); <c>result</c> is its first characters.
/// </summary>
[RunEvent("ToolResultEvent", "tool.completed")]
public sealed record ToolCompleted(int Step, string Agent, int Attempt, string CallId, string Tool, bool IsError, double DurationMs, string Result, int ResultChars);

/// <summary><c>ToolDecisionEvent</c> and the <c>tool.approved</c> / <c>tool.denied</c> audits: a person answered a call that waited for them.</summary>
[RunEvent("ToolDecisionEvent", "tool.approved", "tool.denied")]
public sealed record ToolDecided(int Step, string CallId, string Tool, bool Approved, string? Reason);
