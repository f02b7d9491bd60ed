using System.Text.Json;
using Microsoft.Extensions.AI;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Routing;

namespace Qlaw.Core.Agents;

/// <summary>
/// The routing decisions of DESIGN §2.4 as tools the model can call, generated from an agent's allowed targets. They
/// are declarations only: nothing invokes them; a call ends the turn and becomes the routing decision.
/// </summary>
public static class RoutingTools
{
    private static readonly JsonElement ReasonSchema = JsonDocument.Parse(
        """{"type":"object","properties":{"reason":{"type":"string","description":"Why control moves, for the next agent and the audit log."}}}""").RootElement;

    private static readonly JsonElement PromptSchema = JsonDocument.Parse(
        """{"type":"object","properties":{"prompt":{"type":"string","description":"The question to ask the user."}},"required":["prompt"]}""").RootElement;

    /// <summary>The tools <paramref name="agent"/> may call.</summary>
    public static IList<AITool> For(AgentDefinition agent)
    {
        var tools = new List<AITool>();
        foreach (var target in agent.Handoffs ?? [])
        {
            tools.Add(AIFunctionFactory.CreateDeclaration(RouteCall.HandoffPrefix + target, $"Hand the work to {target}; control does not come back.", ReasonSchema));
        }

        foreach (var target in agent.Consults ?? [])
        {
            tools.Add(AIFunctionFactory.CreateDeclaration(RouteCall.ConsultPrefix + target, $"Ask {target} to work on this; control comes back to you when it returns.", ReasonSchema));
        }

        tools.Add(AIFunctionFactory.CreateDeclaration(RouteCall.ReturnToPrevious, "Send the work back to the agent that handed it to you.", ReasonSchema));
        tools.Add(AIFunctionFactory.CreateDeclaration(RouteCall.RequestInput, "Pause and ask the user for input.", PromptSchema));
        tools.Add(AIFunctionFactory.CreateDeclaration(RouteCall.Complete, "The task is done: end the run.", ReasonSchema));
        return tools;
    }

    /// <summary>The routing decision and prompt of a tool call.</summary>
    public static (RouteDecision Decision, string? Prompt) Read(FunctionCallContent call)
    {
        string? Argument(string name) => call.Arguments?.TryGetValue(name, out var value) == true ? value?.ToString() : null;
        return (RouteCall.Parse(call.Name, Argument("reason")), Argument("prompt"));
    }
}
