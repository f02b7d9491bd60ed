using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Telemetry;

namespace Qlaw.Core.Agents;

/// <summary>
/// The configured model endpoints: those of <c>Models:Endpoints</c> and, as <c>openai</c>, the <c>Models:OpenAI</c>
/// section. Each endpoint holds one OpenAI client built with its own key, so a key can only reach its own base URL,
/// and clients exist only for configured endpoints. An edit of either section rebuilds the table.
/// </summary>
public sealed class ModelEndpoints : IDisposable
{
    /// <summary>Name of the endpoint the <c>Models:OpenAI</c> section defines.</summary>
    public const string OpenAIEndpoint = "openai";

    private const string OpenAIBaseUrl = "https://api.openai.com/v1";

    private readonly IOptionsMonitor<ModelEndpointsOptions> _endpoints;
    private readonly IOptionsMonitor<OpenAIProviderOptions> _openAI;
    private readonly TimeProvider _clock;
    private readonly IDisposable?[] _subscriptions;

    // An endpoint's gate outlives edits of its settings: the calls it counts and the hold a provider asked for stay.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, EndpointGate> _gates = new(StringComparer.OrdinalIgnoreCase);
    private IReadOnlyList<ModelEndpoint>? _table;

    public ModelEndpoints(IOptionsMonitor<ModelEndpointsOptions> endpoints, IOptionsMonitor<OpenAIProviderOptions> openAI, TimeProvider clock)
    {
        (_endpoints, _openAI, _clock) = (endpoints, openAI, clock);
        _subscriptions = [endpoints.OnChange(_ => _table = null), openAI.OnChange(_ => _table = null)];
    }

    /// <summary>Every configured endpoint.</summary>
    public IReadOnlyList<ModelEndpoint> All => _table ??= Build();

    /// <summary>
    /// The endpoint and model <paramref name="model"/> selects — by <c>endpoint</c>, else by <c>base_url</c>, else the
    /// default — or the field (<c>endpoint</c>, <c>base_url</c>, <c>model</c>) that names no configured choice.
    /// </summary>
    public EndpointChoice Choose(ModelOptions model)
    {
        var all = All;
        ModelEndpoint? endpoint;
        if (model.Endpoint is { } name)
        {
            endpoint = all.FirstOrDefault(e => e.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
            if (endpoint is null)
            {
                return EndpointChoice.Refused("endpoint", $"No model endpoint named '{name}' is configured (configured: {Names(all)}).");
            }

            if (model.BaseUrl is { } url && !SameUrl(url, endpoint.BaseUrl))
            {
                return EndpointChoice.Refused("base_url", $"The base URL is not that of endpoint '{endpoint.Name}'; leave it out.");
            }
        }
        else if (model.BaseUrl is { } url)
        {
            endpoint = all.Where(e => SameUrl(url, e.BaseUrl)).OrderByDescending(e => e.IsDefault).FirstOrDefault();
            if (endpoint is null)
            {
                return EndpointChoice.Refused("base_url", $"Not the base URL of a configured model endpoint; name one with model.endpoint (configured: {Names(all)}).");
            }
        }
        else
        {
            endpoint = all.FirstOrDefault(e => e.IsDefault) ?? all[0];
        }

        var modelName = model.Model ?? endpoint.DefaultModel;
        if (modelName is null || !endpoint.Allows(modelName))
        {
            var allowed = endpoint.AllowedModels.Count > 0 ? string.Join(", ", endpoint.AllowedModels) : $"its default model {endpoint.DefaultModel} only";
            return EndpointChoice.Refused("model", $"Model '{modelName}' is not allowed on endpoint '{endpoint.Name}' (allowed: {allowed}).");
        }

        return new EndpointChoice(endpoint, modelName, null, null);
    }

    public void Dispose()
    {
        foreach (var subscription in _subscriptions)
        {
            subscription?.Dispose();
        }
    }

    private List<ModelEndpoint> Build()
    {
        var named = _endpoints.CurrentValue;
        var table = named.Select(e => new ModelEndpoint(
            e.Key,
            e.Value.BaseUrl!,
            e.Value.ApiKey is { Length: > 0 } key ? key : e.Value.ApiKeyVariable is { } variable ? Environment.GetEnvironmentVariable(variable) : null,
            e.Value.Header,
            new HashSet<string>(e.Value.AllowedModels, StringComparer.Ordinal),
            e.Value.DefaultModel,
            e.Value.Default,
            e.Value,
            Gate(e.Key, e.Value))).ToList();
        if (!named.ContainsKey(OpenAIEndpoint))
        {
            var openAI = _openAI.CurrentValue;
            table.Add(new ModelEndpoint(
                OpenAIEndpoint,
                openAI.BaseUrl ?? OpenAIBaseUrl,
                openAI.ApiKey is { Length: > 0 } key ? key : Environment.GetEnvironmentVariable("OPENAI_API_KEY"),
                openAI.UseApiKeyHeader ? KeyHeader.ApiKey : KeyHeader.Bearer,
                new HashSet<string>(openAI.AllowedModels, StringComparer.Ordinal),
                openAI.DefaultModel,
                !named.Values.Any(e => e.Default),
                openAI,
                Gate(OpenAIEndpoint, openAI)));
        }

        return table;
    }

    private EndpointGate Gate(string name, ModelCallOptions calls)
    {
        var gate = _gates.GetOrAdd(name, _ => new EndpointGate(_clock));
        gate.Resize(calls.MaxConcurrentCalls);
        return gate;
    }

    private static string Names(IReadOnlyList<ModelEndpoint> all) => string.Join(", ", all.Select(e => e.Name));

    /// <summary>Whether two base URLs are the same endpoint: scheme, host, port and path, ignoring a trailing '/'.</summary>
    public static bool SameUrl(string a, string b) =>
        Uri.TryCreate(a, UriKind.Absolute, out var x) && Uri.TryCreate(b, UriKind.Absolute, out var y)
        && Uri.Compare(x, y, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0
        && string.Equals(x.AbsolutePath.TrimEnd('/'), y.AbsolutePath.TrimEnd('/'), StringComparison.Ordinal)
        && x.Query.Length == 0 && y.Query.Length == 0;
}

/// <summary>What a workflow's model settings select: an endpoint and model, or the field naming no configured choice.</summary>
public sealed record EndpointChoice(ModelEndpoint? Endpoint, string? Model, string? Field, string? Error)
{
    public static EndpointChoice Refused(string field, string error) => new(null, null, field, error);
}

/// <summary>
/// A configured endpoint: its one OpenAI client, created on first use with the endpoint's own key, how its calls are
/// bounded (<see cref="Calls"/>) and the gate every call to it passes (<see cref="Gate"/>).
/// </summary>
public sealed class ModelEndpoint(
    string name, string baseUrl, string? key, KeyHeader header, IReadOnlySet<string> allowedModels, string? defaultModel, bool isDefault,
    ModelCallOptions calls, EndpointGate gate)
{
    private readonly Lazy<OpenAIClient?> _client = new(() => key is { Length: > 0 } ? Create(baseUrl, key, header, calls.TimeoutSeconds, gate) : null);

    // One traced client per model for the endpoint's life: the telemetry client owns its meter, and a meter disposed
    // while other turns still record into the same instruments loses their measurements.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, IChatClient> _chatClients = new(StringComparer.Ordinal);

    public string Name => name;

    public string BaseUrl => baseUrl;

    public IReadOnlySet<string> AllowedModels => allowedModels;

    /// <summary>Whether workflows may name <paramref name="model"/>: one of AllowedModels, else the default model unless AllowAnyModel.</summary>
    public bool Allows(string model) =>
        allowedModels.Count > 0 ? allowedModels.Contains(model) : calls.AllowAnyModel || string.Equals(model, defaultModel, StringComparison.Ordinal);

    public string? DefaultModel => defaultModel;

    public bool IsDefault => isDefault;

    public ModelCallOptions Calls => calls;

    public EndpointGate Gate => gate;

    /// <summary>The models of an endpoint that get a traced client of their own (AllowAnyModel lets workflows name any number).</summary>
    public const int MaxTracedModels = 64;

    /// <summary>
    /// A chat client of <paramref name="model"/> on this endpoint, with its telemetry (for the first
    /// <see cref="MaxTracedModels"/> models named; the turn's own span covers the others); null when it has no key.
    /// </summary>
    public IChatClient? ChatClient(string model) => _client.Value is not { } client
        ? null
        : _chatClients.TryGetValue(model, out var traced) ? traced
        : _chatClients.Count < MaxTracedModels ? _chatClients.GetOrAdd(model, static (name, client) => client.GetChatClient(name).AsIChatClient().WithTelemetry(), client)
        : client.GetChatClient(model).AsIChatClient();

    private static OpenAIClient Create(string baseUrl, string key, KeyHeader header, int timeoutSeconds, EndpointGate gate)
    {
        var options = new OpenAIClientOptions
        {
            Endpoint = new Uri(baseUrl),

            // A turn retries a provider's 429/503 itself, after the wait it asks for (ModelCall), and everything else
            // belongs to the durable retry policy, which audits each one.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = TimeSpan.FromSeconds(timeoutSeconds),
        };
        options.AddPolicy(new RateLimitHeaders(gate), PipelinePosition.PerTry);
        if (header == KeyHeader.ApiKey)
        {
            // After the client's own bearer policy (one of its per-try policies), so that the bearer header it adds is gone.
            options.AddPolicy(new ApiKeyHeaderPolicy(key), PipelinePosition.BeforeTransport);
        }

        return new OpenAIClient(new ApiKeyCredential(key), options);
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
