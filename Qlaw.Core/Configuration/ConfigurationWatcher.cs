using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace Qlaw.Core.Configuration;

/// <summary>
/// Watches configuration reloads: logs a rejected <c>config.yaml</c> edit, and every changed key of a section that is
/// read once at start (the change needs a restart; values are never logged, they may be secrets).
/// </summary>
internal sealed partial class ConfigurationWatcher(IConfiguration configuration, IEnumerable<RestartSection> restartSections, ILogger<ConfigurationWatcher> logger)
    : IHostedService, IDisposable
{
    private readonly List<IDisposable> _registrations = [];
    private readonly Lock _gate = new();
    private Dictionary<string, string?> _restartValues = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (configuration is IConfigurationRoot root)
        {
            foreach (var source in root.Providers.OfType<SafeYamlConfigurationProvider>().Select(p => p.Source).OfType<SafeYamlConfigurationSource>())
            {
                source.Rejected += OnRejected;
                _registrations.Add(new Unsubscribe(() => source.Rejected -= OnRejected));
            }
        }

        _restartValues = RestartValues();
        _registrations.Add(ChangeToken.OnChange(configuration.GetReloadToken, OnReload));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }

    private void OnRejected(string reason) => LogRejectedFile(logger, reason);

    private void OnReload()
    {
        var now = RestartValues();
        List<string> changed;
        lock (_gate)
        {
            changed = [.. now.Keys.Union(_restartValues.Keys, StringComparer.OrdinalIgnoreCase)
                .Where(key => !string.Equals(now.GetValueOrDefault(key), _restartValues.GetValueOrDefault(key), StringComparison.Ordinal))
                .Order(StringComparer.Ordinal)];
            _restartValues = now;
        }

        foreach (var key in changed)
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

    private sealed class Unsubscribe(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
