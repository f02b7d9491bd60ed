using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json;

namespace Qlaw.Core.Validation;

/// <summary>
/// Validates a request record and everything it holds with its data annotations and <see cref="IValidatableObject"/>
/// rules, naming each bad field by its JSON path (<c>agents[1].handoffs[0]</c>). Both hosts use it, so a request is
/// judged the same wherever it arrives.
/// </summary>
public static class ContractValidator
{
    /// <summary>Returns the errors by JSON path; empty when the value is valid.</summary>
    public static Dictionary<string, string[]> Validate(object value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var errors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        Visit(value, prefix: "", errors);
        return errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal);
    }

    private static void Visit(object value, string prefix, Dictionary<string, List<string>> errors)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true);
        foreach (var result in results)
        {
            var members = result.MemberNames.Any() ? result.MemberNames : [""];
            foreach (var member in members)
            {
                var path = Join(prefix, JsonNamingPolicy.SnakeCaseLower.ConvertName(member));
                if (!errors.TryGetValue(path, out var list))
                {
                    errors[path] = list = [];
                }

                list.Add(result.ErrorMessage ?? "The value is invalid.");
            }
        }

        foreach (var property in value.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0 || property.GetValue(value) is not { } child)
            {
                continue;
            }

            var path = Join(prefix, JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name));
            if (child is string text)
            {
                AddTextError(text, path, errors);
            }
            else if (child is JsonElement element)
            {
                VisitJson(element, path, errors);
            }
            else if (child is IEnumerable items)
            {
                var i = 0;
                foreach (var item in items)
                {
                    if (item is string itemText)
                    {
                        AddTextError(itemText, $"{path}[{i}]", errors);
                    }
                    else if (item is not null && IsContract(item.GetType()))
                    {
                        Visit(item, $"{path}[{i}]", errors);
                    }

                    i++;
                }
            }
            else if (IsContract(child.GetType()))
            {
                Visit(child, path, errors);
            }
        }
    }

    /// <summary>
    /// Errors by JSON path for text in a free-form JSON value that cannot be stored: invalid UTF-8, NUL characters,
    /// unpaired surrogates (PostgreSQL's text and jsonb refuse them).
    /// </summary>
    public static Dictionary<string, string[]> ValidateJson(JsonElement value, string path)
    {
        var errors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        VisitJson(value, path, errors);
        return errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal);
    }

    private static void VisitJson(JsonElement element, string path, Dictionary<string, List<string>> errors)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                AddTextError(ReadString(element), path, errors);
                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    VisitJson(item, $"{path}[{i++}]", errors);
                }

                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        Add(errors, path, InvalidText);
                        continue;
                    }

                    var child = Join(path, name);
                    AddTextError(name, child, errors);
                    VisitJson(property.Value, child, errors);
                }

                break;
        }
    }

    private const string InvalidText = "The text is not valid UTF-8, or holds a NUL character or an unpaired surrogate.";

    private static string? ReadString(JsonElement element)
    {
        try
        {
            return element.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static void AddTextError(string? text, string path, Dictionary<string, List<string>> errors)
    {
        if (text is null || !IsStorable(text))
        {
            Add(errors, path, InvalidText);
        }
    }

    /// <summary>Whether PostgreSQL can store <paramref name="text"/>: no NUL and well-formed UTF-16.</summary>
    public static bool IsStorable(string text)
    {
        if (text.Contains('\0', StringComparison.Ordinal))
        {
            return false;
        }

        var rest = text.AsSpan();
        while (!rest.IsEmpty)
        {
            if (System.Text.Rune.DecodeFromUtf16(rest, out _, out var used) != System.Buffers.OperationStatus.Done)
            {
                return false;
            }

            rest = rest[used..];
        }

        return true;
    }

    private static void Add(Dictionary<string, List<string>> errors, string path, string message)
    {
        path = path.Length == 0 ? "body" : path;
        if (!errors.TryGetValue(path, out var list))
        {
            errors[path] = list = [];
        }

        if (!list.Contains(message))
        {
            list.Add(message);
        }
    }

    private static bool IsContract(Type type) => type.IsClass && type.Assembly == typeof(Contracts.QlawJson).Assembly;

    private static string Join(string prefix, string member) =>
        (prefix, member) switch
        {
            ("", _) => member,
            (_, "") => prefix,
            _ => $"{prefix}.{member}",
        };
}
