using Microsoft.Extensions.Options;
using YamlDotNet.Core;

namespace Qlaw.Core.Configuration;

/// <summary>Turns configuration failures into one readable line per offending key, without stack traces.</summary>
public static class ConfigurationErrors
{
    /// <summary>
    /// The lines describing <paramref name="exception"/> when it is a configuration error (invalid or unconvertible
    /// option values, a missing or malformed configuration file); an empty list for any other exception.
    /// </summary>
    public static IReadOnlyList<string> Describe(Exception exception) => exception switch
    {
        OptionsValidationException invalid => [.. invalid.Failures],
        AggregateException many when many.InnerExceptions.All(e => Describe(e).Count > 0) => [.. many.InnerExceptions.SelectMany(Describe)],
        QlawConfigurationException config => [config.Message],
        InvalidDataException file when file.Message.StartsWith("Failed to load configuration", StringComparison.Ordinal) => [Flatten(file)],
        _ => [],
    };

    /// <summary>Writes <paramref name="lines"/> to standard error and returns the exit code of a configuration error (2).</summary>
    public static int Report(IReadOnlyList<string> lines)
    {
        foreach (var line in lines)
        {
            Console.Error.WriteLine($"qlaw: configuration error: {line}");
        }

        return 2;
    }

    /// <summary>The messages of an exception and its inner exceptions, on one line, with a YAML error's position.</summary>
    public static string Flatten(Exception exception)
    {
        if (Chain(exception).OfType<YamlException>().FirstOrDefault() is { } yaml)
        {
            var file = exception is InvalidDataException && exception.Message.Split('\'') is [_, var path, ..] ? path : "config";
            return $"{file}: not valid YAML at line {yaml.Start.Line}, column {yaml.Start.Column}: {Chain(yaml).Last().Message.Trim()}";
        }

        return string.Join(" ", Chain(exception).Select(e => e.Message.Trim()).Distinct(StringComparer.Ordinal));
    }

    private static IEnumerable<Exception> Chain(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            yield return exception;
        }
    }
}

/// <summary>A configuration problem found before any option is read (a missing file, say).</summary>
public sealed class QlawConfigurationException(string message) : Exception(message);
