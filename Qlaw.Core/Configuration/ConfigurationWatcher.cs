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
    private IDisposable? _subscription;
    private Dictionary<string, string?> _restartValues = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _restartValues = RestartValues();
        _subscription = ChangeToken.OnChange(configuration.GetReloadToken, OnReload);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _subscription?.Dispose();

    private void OnReload()
    {
        foreach (var rejected in ((configuration as IConfigurationRoot)?.Providers ?? []).OfType<SafeYamlConfigurationProvider>().Select(p => p.Rejection).OfType<string>())
        {
            LogRejectedFile(logger, rejected);
        }

        var now = RestartValues();
        var before = Interlocked.Exchange(ref _restartValues, now);
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
