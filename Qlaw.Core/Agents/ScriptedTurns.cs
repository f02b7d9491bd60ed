using Qlaw.Contracts;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Routing;

namespace Qlaw.Core.Agents;

/// <summary>Options of the offline model (section <c>Models:Scripted</c>); they apply on reload.</summary>
public sealed class ScriptedModelOptions
{
    /// <summary>Pause at the start of every turn, to make runs observable; 0 runs as fast as possible.</summary>
    [System.ComponentModel.DataAnnotations.Range(0, 600_000)]
    public int TurnDelayMs { get; set; }

    /// <summary>Pause before each streamed token; 0 streams as fast as possible.</summary>
    [System.ComponentModel.DataAnnotations.Range(0, 60_000)]
    public int TokenDelayMs { get; set; }
}

/// <summary>
/// Which turn the scripted model plays: the agent's script (its n-th turn plays <c>script[n]</c>, the last repeating),
/// else its role's default — Planner → Coder, Coder consults Reviewer, Reviewer sends the first review back and hands
/// to Judge after, Judge completes.
/// </summary>
public static class ScriptedTurns
{
    public static ScriptedTurn For(AgentTurnContext context)
    {
        if (context.Agent.Script is { Count: > 0 } script)
        {
            return script[Math.Min(context.AgentTurnNumber, script.Count - 1)];
        }

        var task = context.History.FirstOrDefault(e => e.Role == "user")?.Text ?? "the task";
        string? AgentWith(AgentRole role) => context.Workflow.Agents.FirstOrDefault(a => a.Role == role)?.Name;
        var first = context.AgentTurnNumber == 0;
        return context.Agent.Role switch
        {
            AgentRole.Planner => new() { Say = $"Plan for \"{task}\":\n1. Understand the task.\n2. Write the code.\n3. Review it.\n", Call = Handoff(AgentWith(AgentRole.Coder)) },
            AgentRole.Coder when first => new() { Say = $"// Code for \"{task}\"\nstatic int Solve() => 42;\n", Call = Consult(AgentWith(AgentRole.Reviewer)) },
            AgentRole.Coder => new() { Say = "// Revised after review: input is validated.\nstatic int Solve(int x) => x < 0 ? 0 : 42;\n", Call = Handoff(AgentWith(AgentRole.Judge)) },
            AgentRole.Reviewer when first => new() { Say = "Review: validate the input before use. Sending it back.", Call = RouteCall.ReturnToPrevious },
            AgentRole.Reviewer => new() { Say = "Review: looks good now.", Call = Handoff(AgentWith(AgentRole.Judge)) },
            _ => new() { Say = "Verdict: approved.", Call = RouteCall.Complete },
        };
    }

    private static string? Handoff(string? agent) => agent is null ? null : RouteCall.HandoffPrefix + agent;

    private static string? Consult(string? agent) => agent is null ? null : RouteCall.ConsultPrefix + agent;
}
