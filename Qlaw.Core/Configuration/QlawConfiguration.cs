using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using YamlDotNet.Core;

namespace Qlaw.Core.Configuration;

/// <summary>How a section's values may change while the process runs.</summary>
public enum SettingReload
{
    /// <summary>Read once at start; an edit is logged as needing a restart (connection strings, hub name, ports).</summary>
    Restart,

    /// <summary>Applied on file change when valid; an invalid edit is rejected and the last good values stay.</summary>
    Live,
}

/// <summary>
/// Qlaw's configuration: appsettings, then a <c>config.yaml</c>, then <c>QLAW__Section__Key</c> variables, bound to
/// options section by section, every problem named by its key at start and on every reload.
/// </summary>
public static partial class QlawConfiguration
{
    /// <summary>
    /// Adds the YAML file named by <c>--config</c> or <c>QLAW_CONFIG</c> (if any; it must exist and parse) and the
    /// <c>QLAW__</c>-prefixed environment variables over what the host already loaded; protects log levels from
    /// invalid edits; logs rejected edits and edits that need a restart.
    /// </summary>
    public static IHostApplicationBuilder AddQlawConfiguration(this IHostApplicationBuilder builder)
    {
        if ((builder.Configuration["config"] ?? Environment.GetEnvironmentVariable("QLAW_CONFIG")) is { Length: > 0 } path)
        {
            var file = Path.GetFullPath(path);
            var source = new SafeYamlConfigurationSource { Path = file, ReloadOnChange = true, ReloadDelay = 100 };

            // Called by the first load only: a reload that fails keeps the last good data (SafeYamlConfigurationProvider).
            source.OnLoadException = failed => throw Errors([failed.Exception is FileNotFoundException
                ? $"config: the file {file} (from --config or QLAW_CONFIG) does not exist." : YamlError(file, failed.Exception)]);
            source.ResolveFileProvider();
            builder.Configuration.Add(source);
        }

        builder.Configuration.AddEnvironmentVariables("QLAW__");
        builder.Services.AddSingleton<IOptionsFactory<LoggerFilterOptions>>(sp =>
            new LastGoodOptionsFactory<LoggerFilterOptions>(ActivatorUtilities.CreateInstance<OptionsFactory<LoggerFilterOptions>>(sp), sp, "Logging"));
        builder.Services.AddSingleton(new RestartSection("Kestrel")).AddSingleton(new RestartSection("urls"));
        builder.Services.AddHostedService<ConfigurationWatcher>();
        return builder;
    }

    /// <summary>
    /// Binds <typeparamref name="T"/> to <paramref name="section"/>: unknown keys, unconvertible values and data
    /// annotation failures (of nested objects too, where marked <see cref="ValidateObjectMembersAttribute"/>) are
    /// reported as <c>Section:Key: message</c> lines at start. <see cref="SettingReload.Live"/> sections reach
    /// <see cref="IOptionsMonitor{T}"/> on file change, the last good values kept when an edit is invalid.
    /// </summary>
    public static OptionsBuilder<T> AddQlawOptions<T>(this IServiceCollection services, string section, SettingReload reload, bool allowUnknownKeys = false)
        where T : class
    {
        services.AddSingleton<IValidateOptions<T>>(sp => new SectionValidator<T>(sp.GetRequiredService<IConfiguration>().GetSection(section), allowUnknownKeys));
        if (reload == SettingReload.Live)
        {
            services.AddSingleton<IOptionsChangeTokenSource<T>>(sp => new ConfigurationChangeTokenSource<T>(sp.GetRequiredService<IConfiguration>()));
            services.AddSingleton<IOptionsFactory<T>>(sp => new LastGoodOptionsFactory<T>(ActivatorUtilities.CreateInstance<OptionsFactory<T>>(sp), sp, section));
        }
        else
        {
            services.AddSingleton(new RestartSection(section));
        }

        return services.AddOptions<T>().ValidateOnStart()
            .Configure<IConfiguration>((options, configuration) => Bind(configuration.GetSection(section), options, allowUnknownKeys));
    }

    /// <summary>
    /// Builds the host with <paramref name="build"/> and checks every setting before it starts: throws one
    /// <see cref="OptionsValidationException"/> whose failures name every offending key (see <see cref="Report"/>).
    /// </summary>
    public static THost BuildValidated<THost>(this IHostApplicationBuilder builder, Func<THost> build)
        where THost : IHost
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
            host.Services.GetService<IStartupValidator>()?.Validate();
        }
        catch (Exception exception) when (exception is OptionsValidationException or AggregateException)
        {
            // The validator throws one OptionsValidationException per options type that failed, and nothing else.
            errors.AddRange(((exception as AggregateException)?.InnerExceptions ?? [exception]).OfType<OptionsValidationException>().SelectMany(e => e.Failures));
        }

        return errors.Count > 0 ? throw Errors(errors) : host;
    }

    /// <summary>Writes each failure of a configuration error to standard error, one line each; returns the exit code (2).</summary>
    public static int Report(OptionsValidationException exception)
    {
        Console.Error.Write(string.Concat(exception.Failures.Select(line => $"qlaw: configuration error: {line}\n")));
        return 2;
    }

    /// <summary>
    /// Every problem of <paramref name="options"/> as bound from <paramref name="section"/>, each naming its key: data
    /// annotation failures and unknown keys, of its members marked <see cref="ValidateObjectMembersAttribute"/> too.
    /// (<see cref="DataAnnotationValidateOptions{TOptions}"/> names a failure only in its text, by CLR path.)
    /// </summary>
    internal static IEnumerable<string> Problems(IConfigurationSection section, object options, bool allowUnknownKeys)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        var properties = options.GetType().GetProperties().Where(p => p.CanWrite).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        var unknown = allowUnknownKeys ? [] : section.GetChildren().Where(child => !properties.ContainsKey(child.Key));
        return results.SelectMany(r => r.MemberNames.DefaultIfEmpty("").Select(member => Keyed(member.Length > 0 ? $"{section.Path}:{member}" : section.Path, r.ErrorMessage)))
            .Concat(unknown.Select(child => $"{child.Path}: not a known setting (known: {string.Join(", ", properties.Keys.Order(StringComparer.Ordinal))})."))
            .Concat(properties.Values.Where(p => p.IsDefined(typeof(ValidateObjectMembersAttribute)))
                .SelectMany(p => p.GetValue(options) is { } nested ? Problems(section.GetSection(p.Name), nested, allowUnknownKeys) : []));
    }

    /// <summary>Why <paramref name="file"/> did not load, on one line, with the position of a YAML error.</summary>
    internal static string YamlError(string file, Exception exception) => exception switch
    {
        YamlException yaml => $"{file}: not valid YAML at line {yaml.Start.Line}, column {yaml.Start.Column}: {yaml.GetBaseException().Message.Trim()}",
        { InnerException: { } inner } => YamlError(file, inner),
        _ => $"{file}: {exception.Message.Trim()}",
    };

    private static OptionsValidationException Errors(IEnumerable<string> lines) => new("configuration", typeof(object), lines);

    // A message written for operators that starts with its key stays whole.
    private static string Keyed(string key, string? message) => message?.StartsWith(key, StringComparison.OrdinalIgnoreCase) == true ? message : $"{key}: {message}";

    // The binder's own check of unknown keys (BinderOptions.ErrorOnUnknownConfiguration) throws at the first object
    // with one, before binding it, and names the options type instead of the key: Problems names them all.
    private static void Bind(IConfigurationSection section, object options, bool allowUnknownKeys)
    {
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException exception)
        {
            var failed = FailedValue().Match(exception.Message);
            var error = failed.Success
                ? $"{failed.Groups["key"]}: '{failed.Groups["value"]}' is not a valid {Friendly(failed.Groups["type"].Value)}."
                : $"{section.Path}: {exception.Message}";

            // The other problems of what did bind too, so one start lists every problem.
            throw new OptionsValidationException(section.Path, options.GetType(), [error, .. Problems(section, options, allowUnknownKeys)]);
        }
    }

    private static string Friendly(string type) => type switch
    {
        "System.Int32" or "System.Int64" => "whole number",
        "System.Double" or "System.Decimal" => "number",
        "System.Boolean" => "boolean (true or false)",
        "System.TimeSpan" => "duration (hh:mm:ss)",
        _ => type.StartsWith("System.", StringComparison.Ordinal) ? type["System.".Length..] : "value; use one of the documented values",
    };

    [GeneratedRegex("configuration value '(?<value>.*)' at '(?<key>[^']+)' to type '(?<type>[^']+)'")]
    private static partial Regex FailedValue();
}

/// <summary>Reports a section's <see cref="QlawConfiguration.Problems"/>.</summary>
internal sealed class SectionValidator<T>(IConfigurationSection section, bool allowUnknownKeys) : IValidateOptions<T>
    where T : class
{
    public ValidateOptionsResult Validate(string? name, T options) =>
        QlawConfiguration.Problems(section, options, allowUnknownKeys).ToList() is { Count: > 0 } failures ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
}
