using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Limits;

namespace Qlaw.Core.Agents;

/// <summary>Builds the Microsoft Agent Framework agent of one workflow agent.</summary>
public sealed class AgentFactory(ILoggerFactory loggerFactory, IOptionsMonitor<LimitsOptions> limits)
{
    /// <summary>
    /// A <see cref="ChatClientAgent"/> with a fixed id (random ids break checkpoint resume), the agent's instructions
    /// and model options, and its routing tools. The chat client is used as is: routing tool calls are not invoked
    /// but returned, and end the turn. A call is bounded by the server's <c>Limits:DefaultMaxOutputTokens</c> when the
    /// workflow sets no <c>max_output_tokens</c>. With <paramref name="oneToolCall"/> the request says <c>parallel_tool_calls: false</c>.
    /// </summary>
    public ChatClientAgent Create(WorkflowDefinition workflow, AgentDefinition agent, ModelOptions model, IChatClient client, bool oneToolCall) =>
        new(client, new ChatClientAgentOptions
        {
            Id = $"{workflow.Name}.{agent.Name}",
            Name = agent.Name,
            Description = agent.Description,
            UseProvidedChatClientAsIs = true,
            ChatOptions = new ChatOptions
            {
                Instructions = agent.Instructions ?? RoleInstructions.For(agent.Role!.Value),
                Tools = RoutingTools.For(agent),
                ToolMode = ChatToolMode.Auto,
                ModelId = model.Model,
                Temperature = (float?)model.Temperature,
                MaxOutputTokens = model.MaxOutputTokens ?? Math.Min(limits.CurrentValue.DefaultMaxOutputTokens, limits.CurrentValue.MaxOutputTokens),
                AllowMultipleToolCalls = oneToolCall ? false : null,
            },
        }, loggerFactory);
}
