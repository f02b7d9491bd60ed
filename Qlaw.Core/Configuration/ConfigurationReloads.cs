using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using NetEscapades.Configuration.Yaml;

namespace Qlaw.Core.Configuration;

/// <summary>A configuration section whose values are read once at start.</summary>
internal sealed record RestartSection(string Path);

/// <summary>
/// A live section's options factory: once the section has been read, an edit that does not bind or validate is logged
/// and the last good values stay (the stock monitor would throw from every read instead).
/// </summary>
internal sealed partial class LastGoodOptionsFactory<T>(OptionsFactory<T> stock, IServiceProvider services, string section) : IOptionsFactory<T>
    where T : class
{
    private Good? _lastGood;

    public T Create(string name)
    {
        var text = string.Join('\n', services.GetRequiredService<IConfiguration>().GetSection(section).AsEnumerable());
        try
        {
            var next = stock.Create(name);
            if (Interlocked.Exchange(ref _lastGood, new(next, text)) is { } previous && previous.Text != text)
            {
                LogApplied(Logger, section);
            }

            return next;
        }
        catch (Exception exception) when (_lastGood is { } lastGood)
        {
            LogRejected(Logger, section, exception is OptionsValidationException invalid ? string.Join("; ", invalid.Failures) : exception.Message);
            return lastGood.Options;
        }
    }

    // Resolved late: the logger factory itself depends on options of this kind (log levels).
    private ILogger Logger => services.GetRequiredService<ILoggerFactory>().CreateLogger("Qlaw.Configuration");

    private sealed record Good(T Options, string Text);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected the edited configuration of {Section}; the last good values stay: {Errors}")]
    private static partial void LogRejected(ILogger logger, string section, string errors);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied the edited configuration of {Section}")]
    private static partial void LogApplied(ILogger logger, string section);
}

/// <summary>
/// A <c>config.yaml</c> whose reloads are all-or-nothing: a file that no longer parses is rejected, its last good data
/// kept and why told to the watcher (the stock provider would drop every key of the file). The first load fails loudly.
/// </summary>
internal sealed class SafeYamlConfigurationSource : YamlConfigurationSource
{
    public override IConfigurationProvider Build(IConfigurationBuilder builder)
    {
        EnsureDefaults(builder);
        return new SafeYamlConfigurationProvider(this);
    }
}

internal sealed class SafeYamlConfigurationProvider(SafeYamlConfigurationSource source) : YamlConfigurationProvider(source)
{
    private bool _loaded;

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

/// <summary>Logs what a reload did not apply: a rejected <c>config.yaml</c>, and each changed key that is read once at start (never its value).</summary>
internal sealed partial class ConfigurationWatcher(IConfiguration configuration, IEnumerable<RestartSection> restartSections, ILogger<ConfigurationWatcher> logger)
    : BackgroundService
{
    private Dictionary<string, string?> _restartValues = [];

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _restartValues = RestartValues();
        stoppingToken.Register(ChangeToken.OnChange(configuration.GetReloadToken, OnReload).Dispose);
        return Task.CompletedTask;
    }

    private void OnReload()
    {
        foreach (var yaml in ((configuration as IConfigurationRoot)?.Providers ?? []).OfType<SafeYamlConfigurationProvider>().Where(p => p.Rejection is not null))
        {
            LogRejectedFile(logger, yaml.Rejection!);
        }

        var (before, now) = (_restartValues, _restartValues = RestartValues());
        foreach (var key in now.Keys.Union(before.Keys, StringComparer.OrdinalIgnoreCase).Where(key => now.GetValueOrDefault(key) != before.GetValueOrDefault(key)).Order(StringComparer.Ordinal))
        {
            LogNeedsRestart(logger, key);
        }
    }

    private Dictionary<string, string?> RestartValues() => restartSections.Select(s => s.Path).Distinct(StringComparer.OrdinalIgnoreCase)
        .SelectMany(section => configuration.GetSection(section).AsEnumerable()).Where(pair => pair.Value is not null)
        .ToDictionary(StringComparer.OrdinalIgnoreCase);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected the edited configuration file; the last good values stay: {Reason}")]
    private static partial void LogRejectedFile(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Configuration key {Key} changed; it is read once at start, so the change needs a restart")]
    private static partial void LogNeedsRestart(ILogger logger, string key);
}
