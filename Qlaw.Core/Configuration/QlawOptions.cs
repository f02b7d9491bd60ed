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
public sealed record RestartSection(string Path);

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
        var builder = services.AddOptions<T>();
        builder.Configure<IConfiguration>((options, configuration) => Bind(configuration.GetSection(section), options, allowUnknownKeys));
        services.AddSingleton<IValidateOptions<T>>(new SectionAnnotations<T>(section));
        builder.ValidateOnStart();
        if (reload == SettingReload.Live)
        {
            services.AddSingleton<IOptionsChangeTokenSource<T>>(sp =>
                new ConfigurationChangeTokenSource<T>(Options.DefaultName, sp.GetRequiredService<IConfiguration>()));
            services.AddSingleton<IOptionsFactory<T>>(sp => ActivatorUtilities.CreateInstance<LastGoodOptionsFactory<T>>(sp, section));
        }
        else
        {
            services.AddSingleton(new RestartSection(section));
        }

        return builder;
    }

    /// <summary>Every data annotation failure of <paramref name="options"/>, each line naming its key under <paramref name="path"/>.</summary>
    internal static List<string> Annotations<T>(string path, T options)
        where T : class =>
        [.. new DataAnnotationValidateOptions<T>(name: null).Validate(null, options).Failures?.SelectMany(failure => Keyed(path, failure)) ?? []];

    /// <summary>
    /// The library's failures (<c>DataAnnotation validation failed for 'RunOptions.Nested' members: 'Key' with the
    /// error: '…'.</c>) as <c>Section:Nested:Key: …</c>; a message written for operators that starts with its key stays whole.
    /// </summary>
    private static IEnumerable<string> Keyed(string section, string failure)
    {
        var match = AnnotationFailure().Match(failure);
        if (!match.Success)
        {
            return [$"{section}: {failure}"];
        }

        var (path, message) = (section + match.Groups["path"].Value.Replace('.', ':'), match.Groups["message"].Value);
        return match.Groups["members"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries).DefaultIfEmpty("")
            .Select(member => member.Length > 0 ? $"{path}:{member}" : path)
            .Select(key => message.StartsWith(key, StringComparison.OrdinalIgnoreCase) ? message : $"{key}: {message}");
    }

    private static void Bind<T>(IConfigurationSection section, T options, bool allowUnknownKeys)
        where T : class
    {
        List<string> errors = allowUnknownKeys ? [] : [.. UnknownKeys(section, typeof(T))];
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException exception)
        {
            var key = FailedKey().Match(exception.Message);
            errors.Add(key.Success
                ? $"{key.Groups[2].Value}: '{key.Groups[1].Value}' is not a valid {Friendly(key.Groups[3].Value)}."
                : $"{section.Path}: {exception.Message}");
        }

        if (errors.Count > 0)
        {
            // Report the data annotation failures of what did bind too, so one start lists every problem.
            throw new OptionsValidationException(section.Path, typeof(T), [.. errors, .. Annotations(section.Path, options)]);
        }
    }

    // The binder's own check (BinderOptions.ErrorOnUnknownConfiguration) throws at the first object with an unknown key,
    // before binding it, so the section's other errors go unreported, and names the options type instead of the key.
    private static IEnumerable<string> UnknownKeys(IConfigurationSection section, Type type)
    {
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        return section.GetChildren().SelectMany(child => properties.TryGetValue(child.Key, out var property)
            ? property.IsDefined(typeof(ValidateObjectMembersAttribute)) ? UnknownKeys(child, property.PropertyType) : []
            : [$"{child.Path}: not a known setting (known: {string.Join(", ", properties.Keys.Order(StringComparer.Ordinal))})."]);
    }

    private static string Friendly(string typeName) => typeName switch
    {
        "System.Int32" or "System.Int64" => "whole number",
        "System.Double" or "System.Decimal" => "number",
        "System.Boolean" => "boolean (true or false)",
        "System.TimeSpan" => "duration (hh:mm:ss)",
        _ when typeName.StartsWith("System.", StringComparison.Ordinal) => typeName["System.".Length..],
        _ => "value; use one of the documented values",
    };

    [GeneratedRegex("configuration value '(.*)' at '([^']+)' to type '([^']+)'")]
    private static partial Regex FailedKey();

    [GeneratedRegex(@"^DataAnnotation validation failed for '[^'.]*(?<path>[^']*)' members: '(?<members>[^']*)' with the error: '(?<message>.*)'\.$", RegexOptions.Singleline)]
    private static partial Regex AnnotationFailure();
}

/// <summary>
/// A section's data annotations, checked by the library (<see cref="DataAnnotationValidateOptions{TOptions}"/>) and
/// reported as <c>Section:Key: message</c>.
/// </summary>
internal sealed class SectionAnnotations<T>(string section) : IValidateOptions<T>
    where T : class
{
    public ValidateOptionsResult Validate(string? name, T options) =>
        QlawOptions.Annotations(section, options) is { Count: > 0 } failures ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
}
