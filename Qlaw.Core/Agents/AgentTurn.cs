using Qlaw.Contracts.Workflows;
using Qlaw.Core.Orchestration;

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
    Task<AgentTurnOutput> RunAsync(AgentTurnContext context, CancellationToken cancellationToken);
}

/// <summary>A failure worth retrying (timeouts, 429, 5xx): the durable retry policy takes over.</summary>
public sealed class TransientAgentException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A failure that retrying cannot fix (bad request, auth): the run is dead-lettered at once.</summary>
public sealed class PermanentAgentException(string message, Exception? inner = null) : Exception(message, inner);
