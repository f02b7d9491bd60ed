using System.ComponentModel.DataAnnotations;

namespace Qlaw.Contracts.Workflows;

/// <summary>
/// A workflow: its agents, who may hand off to whom, where it starts, its limits, retry policy and default model.
/// It is the body of <c>POST /v1/workflows</c> and is returned unchanged as the workflow's <c>config</c>.
/// </summary>
public sealed record WorkflowDefinition : IValidatableObject
{
    /// <summary>Letters, digits, '.', '_' and '-', starting with a letter or digit.</summary>
    public const string NamePattern = "^[A-Za-z0-9][A-Za-z0-9._-]*$";

    public const int MaxAgents = 16;

    /// <summary>Unique name; the <c>model</c> a client names in <c>POST /v1/responses</c>.</summary>
    [Required, StringLength(100, MinimumLength = 1), RegularExpression(NamePattern, ErrorMessage = "Use letters, digits, '.', '_' and '-', starting with a letter or digit.")]
    public string Name { get; init; } = "";

    [StringLength(2000)]
    public string? Description { get; init; }

    /// <summary>Name of the agent that takes the first turn.</summary>
    [Required]
    public string StartAgent { get; init; } = "";

    [Required, MinLength(1), MaxLength(MaxAgents)]
    public IReadOnlyList<AgentDefinition> Agents { get; init; } = [];

    public WorkflowLimits? Limits { get; init; }

    public RetryPolicyDefinition? Retry { get; init; }

    /// <summary>Model used by every agent that does not set its own.</summary>
    public ModelOptions? Model { get; init; }

    /// <summary>Cross-field rules: unique agent names, every named agent defined.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Guid.TryParse(Name, out _))
        {
            yield return new ValidationResult("A workflow name cannot look like an id.", ["name"]);
        }

        var defined = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Agents.Count; i++)
        {
            if (Agents[i] is { Name.Length: > 0 } agent && !defined.Add(agent.Name))
            {
                yield return new ValidationResult($"Agent name '{agent.Name}' is used twice.", [$"agents[{i}].name"]);
            }
        }

        if (StartAgent.Length > 0 && !defined.Contains(StartAgent))
        {
            yield return new ValidationResult($"Start agent '{StartAgent}' is not defined in agents.", ["start_agent"]);
        }

        for (var i = 0; i < Agents.Count; i++)
        {
            foreach (var error in Agents[i]?.ValidateTargets(defined, $"agents[{i}]") ?? [])
            {
                yield return error;
            }
        }
    }
}
