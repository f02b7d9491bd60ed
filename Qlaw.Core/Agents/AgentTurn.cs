using Qlaw.Contracts.Runs;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Routing;
using Qlaw.Core.Tools;

namespace Qlaw.Core.Agents;

/// <summary>An earlier turn of the run, as the next agent sees it; an agent's turn with the routing decision it made.</summary>
public sealed record ConversationEntry(string Role, string? AuthorName, string Text, RouteDecision? Decision = null);

/// <summary>Everything an agent needs for one turn.</summary>
/// <param name="AgentTurnNumber">How many turns this agent completed earlier in the run (0 for its first).</param>
/// <param name="RecordedToolCalls">
/// The tool calls recorded for this step before the turn began (by earlier attempts, or answered by a person after the
/// step before paused), to replay.
/// </param>
public sealed record AgentTurnContext(
    Guid RunId,
    int Step,
    int Attempt,
    int AgentTurnNumber,
    AgentDefinition Agent,
    WorkflowDefinition Workflow,
    IReadOnlyList<ConversationEntry> History,
    IReadOnlyList<ToolCallRecord>? RecordedToolCalls = null);

/// <summary>
/// What the agent said, where it routes, and the tokens it used when the model reports them. <paramref name="Truncated"/>
/// says the model's answer was cut by its output token limit and continued once.
/// </summary>
public sealed record AgentTurnOutput(
    string Text, RouteDecision Decision, string? Prompt = null, long? InputTokens = null, long? OutputTokens = null, bool Truncated = false);

/// <summary>Runs one agent turn on a model.</summary>
public interface IAgentTurnRunner
{
    /// <summary>Runs the turn, recording its text and waits in <paramref name="log"/>; cancelled when the run is.</summary>
    Task<AgentTurnOutput> RunAsync(AgentTurnContext context, ITurnLog log, CancellationToken cancellationToken);
}

/// <summary>
/// Why a turn waits before its model call goes: every call the endpoint allows at once is taken (<see cref="Calls"/>),
/// the provider's rate-limit headers or an earlier 429 hold the endpoint back (<see cref="RateLimit"/>), or the call got
/// a 429/503 and waits what the provider asked (<see cref="RetryAfter"/>, with its <paramref name="Status"/>).
/// </summary>
public sealed record ModelWait(string Endpoint, string Reason, double? WaitMs = null, int? Status = null)
{
    public const string Calls = "calls";
    public const string RateLimit = "rate_limit";
    public const string RetryAfter = "retry_after";
}

/// <summary>What a running turn records in its run's log: its streamed text (all of it so far), its waits for its model and its tool calls.</summary>
public interface ITurnLog : IToolCallLog
{
    /// <summary>The text appended so far.</summary>
    string Text { get; }

    /// <summary>Characters appended so far.</summary>
    int Length { get; }

    /// <summary>
    /// Appends a delta; throws <see cref="AttemptStoppedException"/> once the attempt was cancelled or superseded. What
    /// the sink buffers when the model is done is written with the turn's outcome.
    /// </summary>
    Task AppendAsync(string? delta, CancellationToken cancellationToken);

    /// <summary>The turn waits for its model: status, audit and stream say so until <see cref="WaitOverAsync"/>.</summary>
    Task WaitingAsync(ModelWait wait, CancellationToken cancellationToken);

    /// <summary>The wait is over: the model call goes now.</summary>
    Task WaitOverAsync(CancellationToken cancellationToken);
}

/// <summary>
/// A failure worth retrying (timeouts, 429, 5xx): the durable retry policy takes over. The message is Qlaw's own and
/// safe to show; the provider's exception is the inner one, for the log.
/// </summary>
public sealed class TransientAgentException(string message, Exception? inner = null, string code = RunErrorCodes.ModelUnavailable) : Exception(message, inner)
{
    public string Code => code;
}

/// <summary>A failure that retrying cannot fix (bad request, auth): the run is dead-lettered at once. The message is safe to show.</summary>
public sealed class PermanentAgentException(string message, Exception? inner = null, string code = RunErrorCodes.ModelRejected) : Exception(message, inner)
{
    public string Code => code;
}

/// <summary>The attempt was cancelled or superseded while it ran: it stops and writes nothing more.</summary>
public sealed class AttemptStoppedException() : OperationCanceledException("The attempt is no longer running.");
