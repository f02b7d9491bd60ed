using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;
using Qlaw.Contracts;
using Qlaw.Contracts.Workflows;

namespace Qlaw.Core.Agents;

/// <summary>The OpenAI-compatible provider (section <c>Models:OpenAI</c>): OpenAI, Azure OpenAI (v1 API), Ollama, LiteLLM, vLLM…</summary>
public sealed class OpenAIProviderOptions
{
    /// <summary>API key; when empty the <c>OPENAI_API_KEY</c> environment variable is used. Never logged or echoed.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Base URL, e.g. <c>http://127.0.0.1:11434/v1</c>; a workflow's <c>model.base_url</c> overrides it.</summary>
    [Url]
    public string? BaseUrl { get; set; }

    /// <summary>Model used when a workflow names none.</summary>
    public string DefaultModel { get; set; } = "gpt-4o-mini";

    /// <summary>Send the key as an <c>api-key</c> header (Azure OpenAI) instead of a bearer token.</summary>
    public bool UseApiKeyHeader { get; set; }

    [Range(1, 3600)]
    public int TimeoutSeconds { get; set; } = 120;
}

/// <summary>Gives each agent turn its chat client: the scripted model, or a cached OpenAI-compatible client.</summary>
public sealed class ChatClientProvider(IOptionsMonitor<OpenAIProviderOptions> openAI, IOptionsMonitor<ScriptedModelOptions> scripted)
{
    private readonly ConcurrentDictionary<(string? BaseUrl, string Model, string Key, bool Header, int Timeout), IChatClient> _clients = new();

    /// <summary>The agent's model settings: its own, over the workflow's, over the scripted default.</summary>
    public static ModelOptions Resolve(WorkflowDefinition workflow, AgentDefinition agent)
    {
        var (own, shared) = (agent.Model, workflow.Model);
        return new ModelOptions
        {
            Provider = own?.Provider ?? shared?.Provider ?? ModelProvider.Scripted,
            Model = own?.Model ?? shared?.Model,
            BaseUrl = own?.BaseUrl ?? shared?.BaseUrl,
            Temperature = own?.Temperature ?? shared?.Temperature,
            MaxOutputTokens = own?.MaxOutputTokens ?? shared?.MaxOutputTokens,
        };
    }

    public IChatClient For(ModelOptions model, AgentTurnContext context)
    {
        if (model.Provider != ModelProvider.Openai)
        {
            return new ScriptedChatClient(ScriptedTurns.For(context), context.Attempt, scripted.CurrentValue);
        }

        var options = openAI.CurrentValue;
        var key = options.ApiKey is { Length: > 0 } configured ? configured : Environment.GetEnvironmentVariable("OPENAI_API_KEY");
        if (string.IsNullOrEmpty(key))
        {
            throw new PermanentAgentException("No API key for the openai provider: set Models:OpenAI:ApiKey or OPENAI_API_KEY.");
        }

        var cacheKey = (model.BaseUrl ?? options.BaseUrl, model.Model ?? options.DefaultModel, key, options.UseApiKeyHeader, options.TimeoutSeconds);
        return _clients.GetOrAdd(cacheKey, static k => Create(k.BaseUrl, k.Model, k.Key, k.Header, k.Timeout));
    }

    private static IChatClient Create(string? baseUrl, string model, string key, bool useApiKeyHeader, int timeoutSeconds)
    {
        var clientOptions = new OpenAIClientOptions
        {
            // Retries belong to the durable retry policy, which audits each one.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = TimeSpan.FromSeconds(timeoutSeconds),
        };
        if (baseUrl is not null)
        {
            clientOptions.Endpoint = new Uri(baseUrl);
        }

        if (useApiKeyHeader)
        {
            clientOptions.AddPolicy(new ApiKeyHeaderPolicy(key), PipelinePosition.PerCall);
        }

        return new OpenAIClient(new ApiKeyCredential(key), clientOptions).GetChatClient(model).AsIChatClient();
    }

    // Azure OpenAI takes the key in an api-key header.
    private sealed class ApiKeyHeaderPolicy(string key) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            Apply(message);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            Apply(message);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }

        private void Apply(PipelineMessage message)
        {
            message.Request.Headers.Remove("Authorization");
            message.Request.Headers.Set("api-key", key);
        }
    }
}
