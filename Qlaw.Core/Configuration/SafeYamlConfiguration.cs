using Microsoft.Extensions.Configuration;
using NetEscapades.Configuration.Yaml;

namespace Qlaw.Core.Configuration;

/// <summary>
/// A <c>config.yaml</c> source whose reloads are all-or-nothing: a file that no longer parses is rejected and the
/// last good values stay (the stock provider would drop every key of the file). The first load still fails loudly.
/// </summary>
public sealed class SafeYamlConfigurationSource : YamlConfigurationSource
{
    /// <summary>Raised with the reason when an edited file is rejected.</summary>
    public event Action<string>? Rejected;

    public override IConfigurationProvider Build(IConfigurationBuilder builder)
    {
        EnsureDefaults(builder);
        return new SafeYamlConfigurationProvider(this);
    }

    internal void OnRejected(string reason) => Rejected?.Invoke(reason);
}

/// <summary>Keeps its last good data when a reload of the file fails to parse.</summary>
public sealed class SafeYamlConfigurationProvider(SafeYamlConfigurationSource source) : YamlConfigurationProvider(source)
{
    private bool _loaded;

    public override void Load(Stream stream)
    {
        try
        {
            base.Load(stream);
            _loaded = true;
        }
        catch (Exception exception) when (_loaded)
        {
            source.OnRejected(ConfigurationErrors.Flatten(exception));
        }
    }
}
