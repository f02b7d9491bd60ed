using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Qlaw.Core.Configuration;

namespace Qlaw.Core.Agents;

/// <summary>How an endpoint receives its key.</summary>
public enum KeyHeader
{
    /// <summary><c>Authorization: Bearer &lt;key&gt;</c> (OpenAI, Ollama, LiteLLM, vLLM).</summary>
    Bearer,

    /// <summary><c>api-key: &lt;key&gt;</c> (Azure OpenAI).</summary>
    ApiKey,
}

/// <summary>
/// The named model endpoints (section <c>Models:Endpoints</c>): the only places an agent's model calls, and a key's
/// only destination. A workflow picks one by name (<c>model.endpoint</c>).
/// </summary>
public sealed class ModelEndpointsOptions() : Dictionary<string, ModelEndpointOptions>(StringComparer.OrdinalIgnoreCase);

/// <summary>One model endpoint (section <c>Models:Endpoints:&lt;name&gt;</c>).</summary>
public sealed class ModelEndpointOptions : ModelCallOptions
{
    /// <summary>OpenAI-compatible base URL, e.g. <c>https://my-resource.openai.azure.com/openai/v1</c>.</summary>
    [Required, Url]
    public string? BaseUrl { get; set; }

    /// <summary>The key itself. Never logged or echoed; prefer <see cref="ApiKeyVariable"/>.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Name of the environment variable that holds the key, when <see cref="ApiKey"/> is empty.</summary>
    [RegularExpression("^[A-Za-z_][A-Za-z0-9_]*$", ErrorMessage = "Give an environment variable name (letters, digits, '_').")]
    public string? ApiKeyVariable { get; set; }

    /// <summary>How the key is sent: <c>Bearer</c> (default) or <c>ApiKey</c> (an <c>api-key</c> header).</summary>
    public KeyHeader Header { get; set; } = KeyHeader.Bearer;

    /// <summary>Model used when a workflow names none.</summary>
    public string? DefaultModel { get; set; }

    /// <summary>The endpoint of workflows that name none; at most one endpoint is the default.</summary>
    public bool Default { get; set; }
}

/// <summary>Checks every endpoint's settings and the rules across them, as <c>Models:Endpoints:&lt;name&gt;:Key: message</c>.</summary>
internal sealed partial class ModelEndpointsValidator(IConfiguration configuration) : IValidateOptions<ModelEndpointsOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelEndpointsOptions options)
    {
        var errors = new List<string>();
        foreach (var (endpoint, settings) in options)
        {
            var path = $"Models:Endpoints:{endpoint}";
            if (!EndpointName().IsMatch(endpoint))
            {
                errors.Add($"{path}: an endpoint name uses letters, digits, '_' and '-' (at most 64), starting with a letter or digit.");
            }

            errors.AddRange(QlawConfiguration.Problems(configuration.GetSection(path), settings, allowUnknownKeys: true));
            if (settings.AllowedModels.Length > 0 && settings.DefaultModel is { } model && !settings.AllowedModels.Contains(model, StringComparer.Ordinal))
            {
                errors.Add($"{path}:DefaultModel: '{model}' is not one of AllowedModels.");
            }
        }

        if (options.Count(e => e.Value.Default) > 1)
        {
            errors.Add("Models:Endpoints: more than one endpoint has Default: true.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
    private static partial Regex EndpointName();
}
