using Microsoft.Extensions.Configuration;
using NetEscapades.Configuration.Yaml;

namespace Qlaw.Core.Configuration;

/// <summary>
/// A <c>config.yaml</c> source whose reloads are all-or-nothing: a file that no longer parses is rejected and the
/// last good values stay (the stock provider would drop every key of the file). The first load still fails loudly.
/// </summary>
internal sealed class SafeYamlConfigurationSource : YamlConfigurationSource
{
    public override IConfigurationProvider Build(IConfigurationBuilder builder)
    {
        EnsureDefaults(builder);
        return new SafeYamlConfigurationProvider(this);
    }
}

/// <summary>Keeps its last good data when a reload of the file fails to parse; <see cref="ConfigurationWatcher"/> logs why.</summary>
internal sealed class SafeYamlConfigurationProvider(SafeYamlConfigurationSource source) : YamlConfigurationProvider(source)
{
    private bool _loaded;

    /// <summary>Why the latest reload was rejected; null when it applied.</summary>
    public string? Rejection { get; private set; }

    public override void Load(Stream stream)
    {
        try
        {
            base.Load(stream);
            (_loaded, Rejection) = (true, null);
        }
        catch (Exception exception) when (_loaded)
        {
            Rejection = QlawConfiguration.YamlError(source.Path!, exception);
        }
    }
}
