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

/// <summary>Qlaw's settings (appsettings, <c>config.yaml</c>, <c>QLAW__</c> variables), every problem named by its key.</summary>
public static partial class QlawConfiguration
{
    /// <summary>
    /// Adds the YAML file named by <c>--config</c> or <c>QLAW_CONFIG</c> (if any; it must exist and parse) and the
    /// <c>QLAW__</c> environment variables over what the host loaded; keeps log levels safe; logs rejected edits.
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
    /// Binds <typeparamref name="T"/> to <paramref name="section"/>, every problem reported as <c>Section:Key: message</c>
    /// (<see cref="Problems"/>). Read once at start (an edit is logged as needing a restart), or, when <paramref name="live"/>,
    /// applied on file change when valid, the last good values kept when not.
    /// </summary>
    public static OptionsBuilder<T> AddQlawOptions<T>(this IServiceCollection services, string section, bool live = false, bool allowUnknownKeys = false)
        where T : class
    {
        if (live)
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

    /// <summary>Builds the host and checks every setting: one <see cref="OptionsValidationException"/> names every offending key.</summary>
    public static THost BuildValidated<THost>(this IHostApplicationBuilder builder, Func<THost> build)
        where THost : IHost
    {
        // A log level that is no LogLevel name stops the build naming no key: masked as Information, reported here.
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

    /// <summary>Every annotation failure and unknown key of the options and their <see cref="ValidateObjectMembersAttribute"/> members, by key.</summary>
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

    // Binds, then names every problem by its key: a value the binder cannot convert (it names the key only in its
    // text) and every other problem of what did bind; its own unknown-key check would stop at the first and name a type.
    private static void Bind(IConfigurationSection section, object options, bool allowUnknownKeys)
    {
        string[] failed = [];
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException exception)
        {
            var value = FailedValue().Match(exception.Message);
            failed = [value.Success
                ? $"{value.Groups["key"]}: '{value.Groups["value"]}' is not a valid {Friendly(value.Groups["type"].Value)}."
                : $"{section.Path}: {exception.Message}"];
        }

        if ((string[])[.. failed, .. Problems(section, options, allowUnknownKeys)] is { Length: > 0 } failures)
        {
            throw new OptionsValidationException(section.Path, options.GetType(), failures);
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
