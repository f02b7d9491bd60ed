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
    /// and model options, its routing tools and the MCP tools it was granted (<paramref name="tools"/>). The chat client is used as is: routing tool calls are not invoked
    /// but returned, and end the turn. A call is bounded by the server's <c>Limits:DefaultMaxOutputTokens</c> when the
    /// workflow sets no <c>max_output_tokens</c>. The request says <c>parallel_tool_calls: false</c> unless the endpoint
    /// allows them, and carries what the client is given besides the conversation (<see cref="ModelClient.Properties"/>).
    /// </summary>
    public ChatClientAgent Create(WorkflowDefinition workflow, AgentDefinition agent, ModelOptions model, ModelClient client, IEnumerable<AITool> tools) =>
        new(client.Client, new ChatClientAgentOptions
        {
            Id = $"{workflow.Name}.{agent.Name}",
            Name = agent.Name,
            Description = agent.Description,
            UseProvidedChatClientAsIs = true,
            ChatOptions = new ChatOptions
            {
                Instructions = agent.Instructions ?? RoleInstructions.For(agent.Role!.Value),
                Tools = [.. RoutingTools.For(agent), .. tools],
                ToolMode = ChatToolMode.Auto,
                ModelId = model.Model,
                Temperature = (float?)model.Temperature,
                MaxOutputTokens = model.MaxOutputTokens ?? Math.Min(limits.CurrentValue.DefaultMaxOutputTokens, limits.CurrentValue.MaxOutputTokens),
                AllowMultipleToolCalls = (client.Endpoint?.Calls.DisableParallelToolCalls ?? true) ? false : null,
                AdditionalProperties = client.Properties,
            },
        }, loggerFactory);
}
