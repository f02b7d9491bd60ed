using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;

namespace Qlaw.Contracts.Workflows;

/// <summary>One agent of a workflow and the agents it may pass control to.</summary>
public sealed partial record AgentDefinition
{
    /// <summary>Lower case letters, digits and '_', starting with a letter; it names the agent's routing tools.</summary>
    public const string NamePattern = "^[a-z][a-z0-9_]*$";

    public const int MaxTargets = 16;

    [Required, StringLength(32, MinimumLength = 1), RegularExpression(NamePattern, ErrorMessage = "Use lower case letters, digits and '_', starting with a letter.")]
    public string Name { get; init; } = "";

    [Required]
    public AgentRole? Role { get; init; }

    [StringLength(1000)]
    public string? Description { get; init; }

    /// <summary>System instructions; the role's default instructions when left out.</summary>
    [StringLength(20_000)]
    public string? Instructions { get; init; }

    /// <summary>Agents this one may hand off to straight (control moves, the origin stack is unchanged).</summary>
    [MaxLength(MaxTargets)]
    public IReadOnlyList<string>? Handoffs { get; init; }

    /// <summary>Agents this one may consult (handoff with return: this agent is pushed as the origin).</summary>
    [MaxLength(MaxTargets)]
    public IReadOnlyList<string>? Consults { get; init; }

    /// <summary>Where control goes when the agent ends its turn without a routing call; the run completes when unset.</summary>
    public string? DefaultNext { get; init; }

    /// <summary>This agent's model; the workflow's model when left out.</summary>
    public ModelOptions? Model { get; init; }

    /// <summary>
    /// MCP tools the agent may call, by the server's name in the server's settings (<c>Tools:Mcp:&lt;server&gt;</c>):
    /// <c>files/read_text_file</c>, or <c>files/*</c> for every tool of that server.
    /// </summary>
    [MaxLength(MaxTools)]
    public IReadOnlyList<string>? Tools { get; init; }

    /// <summary>
    /// Tools whose calls wait for a person before they run: <c>{"files/write_file": "required"}</c> (a grant's name or
    /// <c>server/*</c>). A call of any other granted tool runs at once.
    /// </summary>
    public IReadOnlyDictionary<string, ToolApproval>? Approval { get; init; }

    public const int MaxTools = 64;

    /// <summary>Turns the offline <c>scripted</c> model plays for this agent.</summary>
    [MaxLength(100)]
    public IReadOnlyList<ScriptedTurn>? Script { get; init; }

    internal IEnumerable<ValidationResult> ValidateTargets(IReadOnlySet<string> defined, string path)
    {
        foreach (var (list, field) in new[] { (Handoffs, "handoffs"), (Consults, "consults") })
        {
            for (var j = 0; j < (list?.Count ?? 0); j++)
            {
                var target = list![j];
                if (target is null)
                {
                    continue;
                }

                if (!defined.Contains(target))
                {
                    yield return new ValidationResult($"Agent '{target}' is not defined in agents.", [$"{path}.{field}[{j}]"]);
                }
                else if (target == Name)
                {
                    yield return new ValidationResult("An agent cannot hand off to itself.", [$"{path}.{field}[{j}]"]);
                }
            }
        }

        for (var j = 0; j < (Tools?.Count ?? 0); j++)
        {
            if (Tools![j] is { } tool && !ToolName().IsMatch(tool))
            {
                yield return new ValidationResult("Name a tool as server/tool or server/* (letters, digits, '_', '-' and '.').", [$"{path}.tools[{j}]"]);
            }
        }

        foreach (var tool in Approval?.Keys ?? [])
        {
            if (!ToolName().IsMatch(tool) || Tools?.Contains(tool) != true && Tools?.Contains(tool[..(tool.IndexOf('/') + 1)] + "*") != true)
            {
                yield return new ValidationResult($"'{tool}' is not one of this agent's tools.", [$"{path}.approval.{tool}"]);
            }
        }

        if (DefaultNext is not null && (!defined.Contains(DefaultNext) || DefaultNext == Name))
        {
            yield return new ValidationResult($"Default next agent '{DefaultNext}' must be another agent defined in agents.", [$"{path}.default_next"]);
        }
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}/([A-Za-z0-9_.-]{1,128}|\*)$")]
    private static partial Regex ToolName();
}

/// <summary>Whether a person approves a tool's calls before they run.</summary>
public enum ToolApproval
{
    /// <summary>Every call waits for a person's yes or no.</summary>
    Required,

    /// <summary>Calls run at once (the default for a granted tool).</summary>
    Never,
}
