using Microsoft.Extensions.Options;
using Qlaw.Contracts;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Agents;
using Qlaw.Core.Limits;

namespace Qlaw.Core.Workflows;

/// <summary>
/// The server's rules for a workflow, beyond its own validation: every model names a configured endpoint (by name or
/// by that endpoint's exact base URL) and a model it allows; steps, attempts and tokens stay under the server's
/// ceilings (<see cref="LimitsOptions"/>). Errors are keyed by the field's JSON path.
/// </summary>
public sealed class WorkflowRules(ModelEndpoints endpoints, IOptionsMonitor<LimitsOptions> limits)
{
    public Dictionary<string, string[]> Check(WorkflowDefinition workflow)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var ceilings = limits.CurrentValue;
        Ceiling(workflow.Limits?.MaxSteps, ceilings.MaxSteps, "limits.max_steps", "Limits:MaxSteps", errors);
        Ceiling(workflow.Limits?.MaxTotalTokens, ceilings.MaxTotalTokens, "limits.max_total_tokens", "Limits:MaxTotalTokens", errors);
        Ceiling(workflow.Limits?.MaxToolCallsPerTurn, ceilings.MaxToolCallsPerTurn, "limits.max_tool_calls_per_turn", "Limits:MaxToolCallsPerTurn", errors);
        Ceiling(workflow.Retry?.MaxAttempts, ceilings.MaxAttempts, "retry.max_attempts", "Limits:MaxAttempts", errors);
        Ceiling(workflow.Model?.MaxOutputTokens, ceilings.MaxOutputTokens, "model.max_output_tokens", "Limits:MaxOutputTokens", errors);
        if (workflow.Retry is { FirstIntervalMs: { } first, MaxIntervalMs: { } longest } && first > longest)
        {
            errors["retry.first_interval_ms"] = [$"Longer than retry.max_interval_ms ({longest} ms): the first wait cannot be longer than the longest."];
        }

        CheckModel(workflow.Model, "model", errors);
        for (var i = 0; i < workflow.Agents.Count; i++)
        {
            var agent = workflow.Agents[i];
            Ceiling(agent.Model?.MaxOutputTokens, ceilings.MaxOutputTokens, $"agents[{i}].model.max_output_tokens", "Limits:MaxOutputTokens", errors);
            CheckModel(agent.Model, $"agents[{i}].model", errors);

            // What the agent really uses, its own settings over the workflow's: named at the level that set the field.
            var resolved = ChatClientProvider.Resolve(workflow, agent);
            if (resolved.Provider == ModelProvider.Openai && endpoints.Choose(resolved) is { Field: { } field, Error: { } error })
            {
                var owner = field switch
                {
                    "endpoint" => agent.Model?.Endpoint,
                    "base_url" => agent.Model?.BaseUrl,
                    _ => agent.Model?.Model,
                } is null ? "model" : $"agents[{i}].model";
                errors.TryAdd($"{owner}.{field}", [error]);
            }
        }

        return errors;
    }

    private static void Ceiling(int? value, int ceiling, string path, string setting, Dictionary<string, string[]> errors)
    {
        if (value > ceiling)
        {
            errors[path] = [$"Over the server's ceiling of {ceiling} ({setting})."];
        }
    }

    // An endpoint or base URL is checked wherever it is written, whatever the provider, so none is ever stored.
    private void CheckModel(ModelOptions? model, string path, Dictionary<string, string[]> errors)
    {
        if (model is null || (model.Endpoint is null && model.BaseUrl is null))
        {
            return;
        }

        if (endpoints.Choose(model with { Model = model.Model ?? AnyModel }) is { Field: { } field and not "model", Error: { } error })
        {
            errors.TryAdd($"{path}.{field}", [error]);
        }
    }

    // Stands for "whatever model the agent ends up with" when only the endpoint is being checked.
    private const string AnyModel = "\0";
}
