using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Limits;

namespace Qlaw.Core.Tools;

/// <summary>A tool granted to an agent: its MCP server and name, the function name the model calls it by, and how it runs.</summary>
public sealed record GrantedTool(string Server, string Tool, string Function, bool NeedsApproval, bool Idempotent)
{
    /// <summary>The name workflows and records use: <c>server/tool</c>.</summary>
    public string Name => $"{Server}/{Tool}";
}

/// <summary>An agent's tools (<c>agents[i].tools</c>) against the configured MCP servers: checked when a workflow is created, offered in each turn.</summary>
public sealed class AgentTools(McpServers servers, IOptionsMonitor<LimitsOptions> limits)
{
    /// <summary>Adds an error naming the field for every grant of an unknown server or tool.</summary>
    public async Task CheckAsync(WorkflowDefinition workflow, Dictionary<string, string[]> errors, CancellationToken cancellationToken)
    {
        for (var i = 0; i < workflow.Agents.Count; i++)
        {
            var grants = workflow.Agents[i].Tools ?? [];
            for (var j = 0; j < grants.Count; j++)
            {
                var (server, tool) = Split(grants[j]);
                var path = $"agents[{i}].tools[{j}]";
                if (!servers.Has(server))
                {
                    errors[path] = [$"No MCP server '{server}' is configured on this server (Tools:Mcp)."];
                    continue;
                }

                if (tool == "*")
                {
                    continue;
                }

                IReadOnlyList<string> offered;
                try
                {
                    offered = [.. (await servers.ToolsAsync(server, cancellationToken)).Select(t => t.Name)];
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    errors[path] = [$"The MCP server '{server}' could not be started to check its tools; the server log says why."];
                    continue;
                }

                if (!offered.Contains(tool, StringComparer.Ordinal))
                {
                    errors[path] = [$"The MCP server '{server}' has no tool '{tool}' (it has {string.Join(", ", offered.Order(StringComparer.Ordinal))})."];
                }
            }
        }
    }

    /// <summary>The tools <paramref name="agent"/> is offered this turn, listed from their servers (started if need be).</summary>
    public async Task<TurnTools> ForTurnAsync(WorkflowDefinition workflow, AgentDefinition agent, CancellationToken cancellationToken)
    {
        var granted = new List<(GrantedTool Tool, AITool Declaration)>();
        foreach (var server in (agent.Tools ?? []).Select(g => Split(g).Server).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            foreach (var tool in await servers.ToolsAsync(server, cancellationToken))
            {
                if (!Granted(agent.Tools!, server, tool.Name))
                {
                    continue;
                }

                var function = FunctionName(server, tool.Name);
                var grant = new GrantedTool(server, tool.Name, function, NeedsApproval(agent, server, tool.Name), servers.IsIdempotent(server, tool.Name));
                granted.Add((grant, AIFunctionFactory.CreateDeclaration(function, tool.Description, tool.JsonSchema)));
            }
        }

        var caps = limits.CurrentValue;
        var maxCalls = Math.Min(workflow.Limits?.MaxToolCallsPerTurn ?? caps.MaxToolCallsPerTurn, caps.MaxToolCallsPerTurn);
        return new TurnTools(servers, granted, new ToolLimits(maxCalls, TimeSpan.FromSeconds(caps.ToolCallTimeoutSeconds), TimeSpan.FromSeconds(caps.ToolTurnSeconds), caps.MaxToolResultChars));
    }

    private static bool Granted(IReadOnlyList<string> grants, string server, string tool) =>
        grants.Any(g => Split(g) is var (s, t) && string.Equals(s, server, StringComparison.OrdinalIgnoreCase) && (t == "*" || t == tool));

    private static bool NeedsApproval(AgentDefinition agent, string server, string tool) =>
        agent.Approval is { } approval
        && (approval.TryGetValue($"{server}/{tool}", out var exact) ? exact : approval.GetValueOrDefault($"{server}/*", ToolApproval.Never)) == ToolApproval.Required;

    private static (string Server, string Tool) Split(string grant) => grant.IndexOf('/') is var slash and > 0 ? (grant[..slash], grant[(slash + 1)..]) : (grant, "*");

    /// <summary>The name the model calls a tool by: OpenAI's function names allow letters, digits, '_' and '-' (at most 64).</summary>
    public static string FunctionName(string server, string tool)
    {
        var name = string.Concat($"{server}__{tool}".Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' ? c : '_'));
        return name.Length <= 64 ? name : name[..55] + "_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name)))[..8];
    }
}

/// <summary>A turn's bounds on its tool calls (section <c>Limits</c>, and <c>limits.max_tool_calls_per_turn</c>).</summary>
public sealed record ToolLimits(int MaxCalls, TimeSpan CallTimeout, TimeSpan TurnTime, int MaxResultChars);
