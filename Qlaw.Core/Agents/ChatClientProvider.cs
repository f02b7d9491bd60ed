using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Qlaw.Contracts;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Telemetry;

namespace Qlaw.Core.Agents;

/// <summary>
/// The endpoint named <c>openai</c> (section <c>Models:OpenAI</c>): OpenAI, Azure OpenAI (v1 API), Ollama, LiteLLM,
/// vLLM… It is the default endpoint unless one of <c>Models:Endpoints</c> says it is.
/// </summary>
public sealed class OpenAIProviderOptions : ModelCallOptions
{
    /// <summary>API key; when empty the <c>OPENAI_API_KEY</c> environment variable is used. Never logged or echoed.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Base URL, e.g. <c>http://127.0.0.1:11434/v1</c>; <c>https://api.openai.com/v1</c> when empty.</summary>
    [Url]
    public string? BaseUrl { get; set; }

    /// <summary>Model used when a workflow names none.</summary>
    public string DefaultModel { get; set; } = "gpt-4o-mini";

    /// <summary>Send the key as an <c>api-key</c> header (Azure OpenAI) instead of a bearer token.</summary>
    public bool UseApiKeyHeader { get; set; }
}

/// <summary>
/// Gives each agent turn its chat client: the scripted model, or the client of a configured endpoint. Each is wrapped
/// once in Microsoft.Extensions.AI's OpenTelemetry client (<see cref="QlawTelemetry.WithTelemetry"/>), which records
/// the model calls' gen_ai spans and metrics.
/// </summary>
public sealed class ChatClientProvider(ModelEndpoints endpoints, IOptionsMonitor<ScriptedModelOptions> scripted) : IDisposable
{
    private readonly IChatClient _scripted = new ScriptedChatClient(scripted).WithTelemetry();

    /// <summary>The agent's model settings: its own, over the workflow's, over the scripted default.</summary>
    public static ModelOptions Resolve(WorkflowDefinition workflow, AgentDefinition agent)
    {
        var (own, shared) = (agent.Model, workflow.Model);
        return new ModelOptions
        {
            Provider = own?.Provider ?? shared?.Provider ?? ModelProvider.Scripted,
            Model = own?.Model ?? shared?.Model,
            Endpoint = own?.Endpoint ?? shared?.Endpoint,
            BaseUrl = own?.BaseUrl ?? shared?.BaseUrl,
            Temperature = own?.Temperature ?? shared?.Temperature,
            MaxOutputTokens = own?.MaxOutputTokens ?? shared?.MaxOutputTokens,
        };
    }

    /// <summary>
    /// The turn's chat client, and the endpoint it calls (none for the scripted model). The endpoint is chosen again at
    /// every turn, so a stored workflow whose endpoint was removed (or whose model is no longer allowed) fails its turn
    /// instead of reaching anything unconfigured.
    /// </summary>
    public ModelClient For(ModelOptions model, AgentTurnContext context)
    {
        if (model.Provider != ModelProvider.Openai)
        {
            return new(_scripted, null, ScriptedPlay.For(context).AsProperties());
        }

        var choice = endpoints.Choose(model);
        if (choice.Endpoint is not { } endpoint)
        {
            throw new PermanentAgentException($"model.{choice.Field}: {choice.Error}");
        }

        var client = endpoint.ChatClient(choice.Model!)
            ?? throw new PermanentAgentException($"No API key for model endpoint '{endpoint.Name}': set its ApiKey or ApiKeyVariable (Models:OpenAI:ApiKey or OPENAI_API_KEY for 'openai').");
        return new(client, endpoint);
    }

    public void Dispose() => _scripted.Dispose();
}

/// <summary>
/// A turn's chat client, the configured endpoint behind it (null for the scripted model) and what the turn's requests
/// carry for the client besides the conversation (the scripted model's turn).
/// </summary>
public sealed record ModelClient(IChatClient Client, ModelEndpoint? Endpoint, AdditionalPropertiesDictionary? Properties = null);
