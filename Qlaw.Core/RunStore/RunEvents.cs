using System.Text.Json;
using Qlaw.Contracts;
using Qlaw.Contracts.Events;
using Qlaw.Data.Runs;

namespace Qlaw.Core.RunStore;

/// <summary>
/// The per-run event log's vocabulary. Each row's data is exactly the JSON an SSE client receives on its
/// <c>data:</c> line (QLAW CLI contract): its <c>type</c> repeats the event name, and only text deltas carry a
/// top-level <c>delta</c> string. Traces use Agent Framework's event names.
/// </summary>
public static class RunEvents
{
    public const string TextDelta = OutputTextDelta.Name;
    public const string TraceComplete = Contracts.Events.TraceComplete.Name;

    /// <summary>Marks the run ended or paused: a stream that reaches it closes unless the run moved on.</summary>
    public const string ResponseCompleted = Contracts.Events.ResponseCompleted.Name;

    /// <summary>Marks the run failed (or dead-lettered); a stream that reaches it closes unless the run moved on.</summary>
    public const string ResponseError = Contracts.Events.ResponseError.Name;

    public const string ExecutorInvoked = "ExecutorInvokedEvent";
    public const string ExecutorCompleted = "ExecutorCompletedEvent";
    public const string ExecutorFailed = "ExecutorFailedEvent";
    public const string Handoff = "HandoffEvent";
    public const string RequestInfo = "RequestInfoEvent";
    public const string WorkflowOutput = "WorkflowOutputEvent";
    public const string WorkflowError = "WorkflowErrorEvent";
    public const string WorkflowWarning = "WorkflowWarningEvent";
    public const string InputAnswered = "InputAnsweredEvent";
    public const string ModelWaiting = "ModelWaitingEvent";
    public const string ToolCall = "ToolCallEvent";
    public const string ToolResult = "ToolResultEvent";
    public const string ToolDecision = "ToolDecisionEvent";

    /// <summary>A chunk of an agent's streamed text, marked with its attempt.</summary>
    public static RunEventEntity Delta(Guid runId, int step, int attempt, string agent, string text, DateTimeOffset at) =>
        Row(runId, TextDelta, step, attempt, at, new OutputTextDelta(text, ItemId(runId, step), step, 0, agent, attempt));

    /// <summary>A workflow trace: <c>{"type":"response.trace.complete","data":{"trace_type":"workflow_info",…}}</c>.</summary>
    public static RunEventEntity Trace(Guid runId, string eventType, string? executorId, object data, DateTimeOffset at, int? step = null, int? attempt = null) =>
        Row(runId, TraceComplete, step, attempt, at, new TraceComplete(new WorkflowTrace("workflow_info", eventType, executorId, data)));

    /// <summary>The human-in-the-loop request in the exact shape the QLAW CLI displays.</summary>
    public static RunEventEntity InputRequest(Guid runId, int step, int attempt, string agent, string prompt, IReadOnlyList<ConversationMessage> conversation, DateTimeOffset at) =>
        Trace(runId, RequestInfo, agent, new RequestInfoData(new PendingRequest(
            RequestId(runId, step), agent, "HandoffUserInputRequest", "str", new PendingRequestData(prompt, conversation, agent, agent))), at, step, attempt);

    /// <summary>The run ended or paused with <paramref name="status"/>.</summary>
    public static RunEventEntity Completed(Guid runId, RunStatus status, string? outputText, DateTimeOffset at) =>
        Row(runId, ResponseCompleted, null, null, at, new Contracts.Events.ResponseCompleted(new ResponseSummary(ResponseId(runId), QlawJson.EnumName(status), outputText)));

    /// <summary>
    /// The run failed: a stable code and a message of Qlaw's own (no internals), in both shapes the QLAW CLI reads.
    /// </summary>
    public static RunEventEntity Error(Guid runId, string code, string message, DateTimeOffset at) =>
        Row(runId, ResponseError, null, null, at, new Contracts.Events.ResponseError(code, message, new ResponseErrorBody(code, message)));

    /// <summary>The id of the run's request for input at <paramref name="step"/>.</summary>
    public static string RequestId(Guid runId, int step) => $"req_{runId:N}_{step}";

    /// <summary>The OpenAI-style response id of a run.</summary>
    public static string ResponseId(Guid runId) => $"resp_{runId:N}";

    /// <summary>The id of the output item an agent's turn streams into.</summary>
    public static string ItemId(Guid runId, int step) => $"msg_{runId:N}_{step}";

    private static RunEventEntity Row(Guid runId, string type, int? step, int? attempt, DateTimeOffset at, object payload) => new()
    {
        RunId = runId,
        Type = type,
        Data = JsonSerializer.Serialize(payload, QlawJson.Options),
        StepIndex = step,
        Attempt = attempt,
        CreatedAt = at,
    };
}
