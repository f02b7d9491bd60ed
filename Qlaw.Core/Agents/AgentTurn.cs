using Qlaw.Contracts.Runs;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Routing;

namespace Qlaw.Core.Agents;

/// <summary>An earlier turn of the run, as the next agent sees it.</summary>
public sealed record ConversationEntry(string Role, string? AuthorName, string Text);

/// <summary>Everything an agent needs for one turn.</summary>
/// <param name="AgentTurnNumber">How many turns this agent completed earlier in the run (0 for its first).</param>
public sealed record AgentTurnContext(
    Guid RunId,
    int Step,
    int Attempt,
    int AgentTurnNumber,
    AgentDefinition Agent,
    WorkflowDefinition Workflow,
    IReadOnlyList<ConversationEntry> History);

/// <summary>What the agent said, where it routes, and the tokens it used when the model reports them.</summary>
public sealed record AgentTurnOutput(string Text, RouteDecision Decision, string? Prompt = null, long? InputTokens = null, long? OutputTokens = null);

/// <summary>Runs one agent turn on a model.</summary>
public interface IAgentTurnRunner
{
    /// <summary>Runs the turn, streaming its text into <paramref name="text"/>; cancelled when the run is.</summary>
    Task<AgentTurnOutput> RunAsync(AgentTurnContext context, ITurnTextSink text, CancellationToken cancellationToken);
}

/// <summary>Where a turn's streamed text goes (the run's event log), and all of it so far.</summary>
public interface ITurnTextSink
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
