using System.Collections;
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
public sealed record RestartSection(string Path);

/// <summary>Registers options bound to a configuration section, checked key by key at start and on every reload.</summary>
public static partial class QlawOptions
{
    /// <summary>
    /// Binds <typeparamref name="T"/> to <paramref name="section"/>: unknown keys, unconvertible values and data
    /// annotation failures are reported as <c>Section:Key: message</c> lines at start. <see cref="SettingReload.Live"/>
    /// sections reach <see cref="IOptionsMonitor{T}"/> on file change, the last good values kept when an edit is invalid.
    /// </summary>
    public static OptionsBuilder<T> AddQlawOptions<T>(this IServiceCollection services, string section, SettingReload reload, bool allowUnknownKeys = false)
        where T : class
    {
        var builder = services.AddOptions<T>();
        builder.Configure<IConfiguration>((options, configuration) => Bind(configuration.GetSection(section), options, allowUnknownKeys));
        services.AddSingleton<IValidateOptions<T>>(new SectionValidator<T>(section));
        builder.ValidateOnStart();
        if (reload == SettingReload.Live)
        {
            services.AddSingleton<IOptionsChangeTokenSource<T>>(sp =>
                new ConfigurationChangeTokenSource<T>(Options.DefaultName, sp.GetRequiredService<IConfiguration>()));
            services.AddSingleton<IOptionsMonitor<T>>(sp => ActivatorUtilities.CreateInstance<SafeOptionsMonitor<T>>(sp, section));
        }
        else
        {
            services.AddSingleton(new RestartSection(section));
        }

        return builder;
    }

    private static void Bind<T>(IConfigurationSection section, T options, bool allowUnknownKeys)
        where T : class
    {
        var errors = new List<string>();
        if (!allowUnknownKeys)
        {
            UnknownKeys(section, typeof(T), errors);
        }

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
            SectionValidator<T>.Collect(options, section.Path, errors);
            throw new OptionsValidationException(section.Path, typeof(T), errors);
        }
    }

    private static void UnknownKeys(IConfigurationSection section, Type type, List<string> errors)
    {
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var child in section.GetChildren())
        {
            if (!properties.TryGetValue(child.Key, out var property))
            {
                errors.Add($"{child.Path}: not a known setting (known: {string.Join(", ", properties.Keys.Order(StringComparer.Ordinal))}).");
            }
            else if (IsNested(property.PropertyType))
            {
                UnknownKeys(child, property.PropertyType, errors);
            }
        }
    }

    internal static bool IsNested(Type type) =>
        type.IsClass && type != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(type) && !type.IsAbstract;

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
}

/// <summary>Data annotation checks of an options object and its nested objects, reported as <c>Section:Key: message</c>.</summary>
internal sealed class SectionValidator<T>(string section) : IValidateOptions<T>
    where T : class
{
    public ValidateOptionsResult Validate(string? name, T options)
    {
        var errors = new List<string>();
        Collect(options, section, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    internal static void Collect(object instance, string path, List<string> errors)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(instance, new ValidationContext(instance), results, validateAllProperties: true);
        foreach (var result in results)
        {
            var members = result.MemberNames.Any() ? result.MemberNames : [""];
            foreach (var key in members.Select(member => member.Length > 0 ? $"{path}:{member}" : path))
            {
                // Messages written for operators already start with the key.
                errors.Add(result.ErrorMessage?.StartsWith(key, StringComparison.OrdinalIgnoreCase) == true ? result.ErrorMessage : $"{key}: {result.ErrorMessage}");
            }
        }

        foreach (var property in instance.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (QlawOptions.IsNested(property.PropertyType) && property.GetIndexParameters().Length == 0 && property.GetValue(instance) is { } nested)
            {
                Collect(nested, $"{path}:{property.Name}", errors);
            }
        }
    }
}
