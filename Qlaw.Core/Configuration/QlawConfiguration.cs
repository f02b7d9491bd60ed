using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using YamlDotNet.Core;

namespace Qlaw.Core.Configuration;

/// <summary>Qlaw's configuration layers: appsettings, then a <c>config.yaml</c>, then <c>QLAW__Section__Key</c> variables.</summary>
public static class QlawConfiguration
{
    /// <summary>Environment variable naming the YAML file (the <c>--config</c> argument does the same).</summary>
    public const string FileVariable = "QLAW_CONFIG";

    /// <summary>
    /// Adds the YAML file named by <c>--config</c> or <c>QLAW_CONFIG</c> (if any; it must exist and parse) and the
    /// <c>QLAW__</c>-prefixed environment variables over what the host already loaded; protects log levels from
    /// invalid edits; logs rejected edits and edits that need a restart.
    /// </summary>
    public static IHostApplicationBuilder AddQlawConfiguration(this IHostApplicationBuilder builder)
    {
        if ((builder.Configuration["config"] ?? Environment.GetEnvironmentVariable(FileVariable)) is { Length: > 0 } path)
        {
            var fullPath = Path.GetFullPath(path);
            if (!File.Exists(fullPath))
            {
                throw Errors([$"config: the file {fullPath} (from --config or {FileVariable}) does not exist."]);
            }

            var source = new SafeYamlConfigurationSource { Path = fullPath, ReloadOnChange = true, ReloadDelay = 100 };
            source.ResolveFileProvider();
            try
            {
                builder.Configuration.Add(source);
            }
            catch (InvalidDataException exception)
            {
                throw Errors([YamlError(fullPath, exception.InnerException ?? exception)]);
            }
        }

        builder.Configuration.AddEnvironmentVariables("QLAW__");
        builder.Services.AddSingleton<IOptionsFactory<LoggerFilterOptions>>(sp =>
            new LastGoodOptionsFactory<LoggerFilterOptions>(ActivatorUtilities.CreateInstance<OptionsFactory<LoggerFilterOptions>>(sp), sp, "Logging"));
        builder.Services.AddSingleton(new RestartSection("Kestrel"));
        builder.Services.AddSingleton(new RestartSection("urls"));
        builder.Services.AddHostedService<ConfigurationWatcher>();
        return builder;
    }

    /// <summary>
    /// Builds the host with <paramref name="build"/> and checks every setting before it starts: throws one
    /// <see cref="OptionsValidationException"/> whose failures name every offending key (see <see cref="Report"/>).
    /// </summary>
    public static THost BuildValidated<THost>(this IHostApplicationBuilder builder, Func<THost> build, Func<THost, IServiceProvider> services)
    {
        // A log level that is no LogLevel name stops the build with a message that names no key: it is masked (as
        // Information) so that the rest can be checked, and reported with the rest.
        var badLevels = builder.Configuration.GetSection("Logging").AsEnumerable()
            .Where(s => s.Key.Split(':') is { Length: 3 or 4 } keys && keys[^2].Equals("LogLevel", StringComparison.OrdinalIgnoreCase))
            .Where(s => s.Value is { } level && !Enum.TryParse<LogLevel>(level, ignoreCase: true, out _)).ToList();
        builder.Configuration.AddInMemoryCollection(badLevels.Select(s => KeyValuePair.Create(s.Key, (string?)nameof(LogLevel.Information))));
        List<string> errors = [.. badLevels.Select(s => $"{s.Key}: '{s.Value}' is not a log level (Trace, Debug, Information, Warning, Error, Critical, None).")];
        var host = build();
        try
        {
            services(host).GetService<IStartupValidator>()?.Validate();
        }
        catch (OptionsValidationException exception)
        {
            errors.AddRange(exception.Failures);
        }
        catch (AggregateException exception)
        {
            // One per options type that failed: the validator throws nothing else.
            errors.AddRange(exception.InnerExceptions.OfType<OptionsValidationException>().SelectMany(e => e.Failures));
        }

        return errors.Count > 0 ? throw Errors(errors) : host;
    }

    /// <summary>Writes each failure of a configuration error to standard error, one line each; returns the exit code (2).</summary>
    public static int Report(OptionsValidationException exception)
    {
        foreach (var line in exception.Failures)
        {
            Console.Error.WriteLine($"qlaw: configuration error: {line}");
        }

        return 2;
    }

    /// <summary>Why <paramref name="file"/> did not parse (as NetEscapades wraps it), on one line, with a YAML error's position.</summary>
    internal static string YamlError(string file, Exception exception) => exception.InnerException is YamlException yaml
        ? $"{file}: not valid YAML at line {yaml.Start.Line}, column {yaml.Start.Column}: {yaml.GetBaseException().Message.Trim()}"
        : $"{file}: {exception.GetBaseException().Message.Trim()}";

    private static OptionsValidationException Errors(IEnumerable<string> lines) => new("configuration", typeof(object), lines);
}
