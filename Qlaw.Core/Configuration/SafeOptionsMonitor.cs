using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Qlaw.Core.Configuration;

/// <summary>
/// An options monitor that applies a reloaded section only when it binds and validates: an invalid edit is logged and
/// the last good values stay current. The stock monitor would throw from the file watcher instead.
/// </summary>
public sealed partial class SafeOptionsMonitor<T> : IOptionsMonitor<T>, IDisposable
    where T : class
{
    private readonly IOptionsFactory<T> _factory;
    private readonly IServiceProvider _services;
    private readonly string _section;
    private readonly List<IDisposable> _registrations = [];
    private readonly Lock _gate = new();
    private T? _current;
    private Action<T, string?>? _listeners;

    public SafeOptionsMonitor(IOptionsFactory<T> factory, IEnumerable<IOptionsChangeTokenSource<T>> sources, IServiceProvider services, string section)
    {
        _factory = factory;
        _services = services;
        _section = section;
        foreach (var source in sources)
        {
            _registrations.Add(ChangeToken.OnChange(source.GetChangeToken, Reload));
        }
    }

    public T CurrentValue => Get(Options.DefaultName);

    public T Get(string? name)
    {
        if (!string.IsNullOrEmpty(name))
        {
            return _factory.Create(name);
        }

        lock (_gate)
        {
            return _current ??= _factory.Create(Options.DefaultName);
        }
    }

    public IDisposable OnChange(Action<T, string?> listener)
    {
        lock (_gate)
        {
            _listeners += listener;
        }

        return new Subscription(() =>
        {
            lock (_gate)
            {
                _listeners -= listener;
            }
        });
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }

    private void Reload()
    {
        T next;
        try
        {
            next = _factory.Create(Options.DefaultName);
        }
        catch (Exception exception)
        {
            var lines = ConfigurationErrors.Describe(exception);
            var errors = lines.Count > 0 ? string.Join("; ", lines) : ConfigurationErrors.Flatten(exception);
            LogRejected(Logger(), _section, errors);
            return;
        }

        T? previous;
        Action<T, string?>? listeners;
        lock (_gate)
        {
            previous = _current;
            _current = next;
            listeners = _listeners;
        }

        // The listeners first: once "Applied" is logged, the new values are in force.
        listeners?.Invoke(next, Options.DefaultName);
        if (!Same(previous, next))
        {
            var logger = Logger();
            LogApplied(logger, _section);
        }
    }

    private static bool Same(T? previous, T next)
    {
        try
        {
            return previous is not null && JsonSerializer.Serialize(previous) == JsonSerializer.Serialize(next);
        }
        catch (NotSupportedException)
        {
            return false;
        }
    }

    // Resolved late: the logger factory itself depends on a monitor of this kind (log levels).
    private ILogger Logger() =>
        _services.GetService<ILoggerFactory>()?.CreateLogger("Qlaw.Configuration") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected the edited configuration of {Section}; the last good values stay: {Errors}")]
    private static partial void LogRejected(ILogger logger, string section, string errors);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied the edited configuration of {Section}")]
    private static partial void LogApplied(ILogger logger, string section);

    private sealed class Subscription(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }
}
