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
        // A log level that is no LogLevel name stops the build with a message that names no key: it is masked (as
        // Information) so that the rest can be checked, and reported with the rest.
        var badLevels = InvalidLogLevels(builder.Configuration).ToList();
        if (badLevels.Count > 0)
        {
            builder.Configuration.AddInMemoryCollection(badLevels.Select(b => new KeyValuePair<string, string?>(b.Path, nameof(LogLevel.Information))));
        }

        List<string> errors = [.. badLevels.Select(b => $"{b.Path}: '{b.Value}' is not a log level (Trace, Debug, Information, Warning, Error, Critical, None).")];
        var host = build();
        try
        {
            services(host).GetService<IStartupValidator>()?.Validate();
        }
        catch (Exception exception) when (ConfigurationErrors.Describe(exception) is { Count: > 0 } lines)
        {
            errors.AddRange(lines);
        }

        return errors.Count > 0 ? throw new OptionsValidationException("configuration", typeof(object), errors) : host;
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
