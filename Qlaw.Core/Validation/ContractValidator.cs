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
            if (child is IEnumerable items and not string)
            {
                var i = 0;
                foreach (var item in items)
                {
                    if (item is not null && IsContract(item.GetType()))
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

    private static bool IsContract(Type type) => type.IsClass && type.Assembly == typeof(Contracts.QlawJson).Assembly;

    private static string Join(string prefix, string member) =>
        (prefix, member) switch
        {
            ("", _) => member,
            (_, "") => prefix,
            _ => $"{prefix}.{member}",
        };
}
