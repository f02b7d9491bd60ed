using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Qlaw.Core.Configuration;

/// <summary>
/// The options factory of a live section: the stock one, except that once the section has been read, an edit that
/// does not bind or validate is logged and the last good values stay. The stock monitor would clear its cache and
/// throw from every read of the options instead.
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
                var logger = Logger();
                LogApplied(logger, section);
            }

            return next;
        }
        catch (Exception exception) when (_lastGood is { } lastGood)
        {
            var logger = Logger();
            LogRejected(logger, section, exception is OptionsValidationException invalid ? string.Join("; ", invalid.Failures) : exception.Message);
            return lastGood.Options;
        }
    }

    // Resolved late: the logger factory itself depends on options of this kind (log levels).
    private ILogger Logger() => services.GetRequiredService<ILoggerFactory>().CreateLogger("Qlaw.Configuration");

    private sealed record Good(T Options, string Text);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected the edited configuration of {Section}; the last good values stay: {Errors}")]
    private static partial void LogRejected(ILogger logger, string section, string errors);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied the edited configuration of {Section}")]
    private static partial void LogApplied(ILogger logger, string section);
}
