using System.ComponentModel.DataAnnotations;

namespace Qlaw.Contracts.Workflows;

/// <summary>One agent of a workflow and the agents it may pass control to.</summary>
public sealed record AgentDefinition
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

        if (DefaultNext is not null && (!defined.Contains(DefaultNext) || DefaultNext == Name))
        {
            yield return new ValidationResult($"Default next agent '{DefaultNext}' must be another agent defined in agents.", [$"{path}.default_next"]);
        }
    }
}
