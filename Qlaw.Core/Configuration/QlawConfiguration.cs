using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

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
        var path = builder.Configuration["config"] ?? Environment.GetEnvironmentVariable(FileVariable);
        if (path is { Length: > 0 })
        {
            var fullPath = Path.GetFullPath(path);
            if (!File.Exists(fullPath))
            {
                throw new QlawConfigurationException($"config: the file {fullPath} (from --config or {FileVariable}) does not exist.");
            }

            var source = new SafeYamlConfigurationSource { Path = fullPath, Optional = false, ReloadOnChange = true, ReloadDelay = 100 };
            source.ResolveFileProvider();
            builder.Configuration.Add(source);
        }

        builder.Configuration.AddEnvironmentVariables("QLAW__");
        builder.Services.AddSingleton<IOptionsFactory<LoggerFilterOptions>>(sp =>
            ActivatorUtilities.CreateInstance<LastGoodOptionsFactory<LoggerFilterOptions>>(sp, "Logging"));
        builder.Services.AddSingleton(new RestartSection("ConnectionStrings"));
        builder.Services.AddSingleton(new RestartSection("Kestrel"));
        builder.Services.AddSingleton(new RestartSection("urls"));
        builder.Services.AddHostedService<ConfigurationWatcher>();
        return builder;
    }

    /// <summary>
    /// Builds the host with <paramref name="build"/> and checks every setting before it starts: throws one exception
    /// listing every offending key (see <see cref="ConfigurationErrors.Describe"/>).
    /// </summary>
    public static THost BuildValidated<THost>(this IHostApplicationBuilder builder, Func<THost> build, Func<THost, IServiceProvider> services)
    {
        var logLevelErrors = SetAsideInvalidLogLevels(builder.Configuration);
        var host = build();
        ValidateConfiguration(services(host), logLevelErrors);
        return host;
    }

    /// <summary>
    /// Finds log levels that are not <see cref="LogLevel"/> names and masks them (as Information) so the host can be
    /// built and the rest of the configuration checked; returns one line per masked key, for
    /// <see cref="ValidateConfiguration"/>. Call just before building the host.
    /// </summary>
    public static IReadOnlyList<string> SetAsideInvalidLogLevels(IConfigurationManager configuration)
    {
        var bad = InvalidLogLevels(configuration).ToList();
        if (bad.Count > 0)
        {
            configuration.AddInMemoryCollection(bad.Select(b => new KeyValuePair<string, string?>(b.Path, nameof(LogLevel.Information))));
        }

        return [.. bad.Select(b => $"{b.Path}: '{b.Value}' is not a log level (Trace, Debug, Information, Warning, Error, Critical, None).")];
    }

    /// <summary>
    /// Validates every registered options section and throws with one line per offending key, plus
    /// <paramref name="earlierErrors"/>. Call after building the host and before starting it.
    /// </summary>
    public static void ValidateConfiguration(IServiceProvider services, IEnumerable<string> earlierErrors)
    {
        var errors = earlierErrors.ToList();
        try
        {
            services.GetService<IStartupValidator>()?.Validate();
        }
        catch (Exception exception) when (ConfigurationErrors.Describe(exception) is { Count: > 0 } lines)
        {
            errors.AddRange(lines);
        }

        if (errors.Count > 0)
        {
            throw new OptionsValidationException("configuration", typeof(object), errors);
        }
    }

    private static IEnumerable<(string Path, string Value)> InvalidLogLevels(IConfiguration configuration)
    {
        var logging = configuration.GetSection("Logging");
        var sections = logging.GetChildren().Select(provider => provider.GetSection("LogLevel")).Prepend(logging.GetSection("LogLevel"));
        foreach (var level in sections.DistinctBy(s => s.Path, StringComparer.OrdinalIgnoreCase).SelectMany(s => s.GetChildren()))
        {
            if (level.Value is { } value && !Enum.TryParse<LogLevel>(value, ignoreCase: true, out _))
            {
                yield return (level.Path, value);
            }
        }
    }
}
