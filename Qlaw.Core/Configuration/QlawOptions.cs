using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Qlaw.Core.Configuration;

/// <summary>How a section's values may change while the process runs.</summary>
public enum SettingReload
{
    /// <summary>Read once at start; an edit is logged as needing a restart (connection strings, hub name, ports).</summary>
    Restart,

    /// <summary>Applied on file change when valid; an invalid edit is rejected and the last good values stay.</summary>
    Live,
}

/// <summary>A configuration section whose values are read once at start.</summary>
internal sealed record RestartSection(string Path);

/// <summary>Registers options bound to a configuration section, checked key by key at start and on every reload.</summary>
public static partial class QlawOptions
{
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
    /// Every problem of <paramref name="options"/> as bound from <paramref name="section"/>, each naming its key: data
    /// annotation failures and unknown keys, of its members marked <see cref="ValidateObjectMembersAttribute"/> too.
    /// (The library's <see cref="DataAnnotationValidateOptions{TOptions}"/> names a failure only in text, by CLR path.)
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

    // A message written for operators that starts with its key stays whole.
    private static string Keyed(string key, string? message) =>
        message?.StartsWith(key, StringComparison.OrdinalIgnoreCase) == true ? message : $"{key}: {message}";

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

/// <summary>Reports a section's <see cref="QlawOptions.Problems"/>.</summary>
internal sealed class SectionValidator<T>(IConfigurationSection section, bool allowUnknownKeys) : IValidateOptions<T>
    where T : class
{
    public ValidateOptionsResult Validate(string? name, T options) =>
        QlawOptions.Problems(section, options, allowUnknownKeys).ToList() is { Count: > 0 } failures ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
}
