using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json;
using Qlaw.Contracts;

namespace Qlaw.Core.Validation;

/// <summary>
/// Validates a request record and all it holds (data annotations, <see cref="IValidatableObject"/> rules, text PostgreSQL
/// can store), each bad field named by its JSON path (<c>agents[1].handoffs[0]</c>); both hosts judge requests with it.
/// </summary>
public static class ContractValidator
{
    private const string InvalidText = "The text is not valid UTF-8, or holds a NUL character or an unpaired surrogate.";
    private const string NumberOutOfRange = "The number cannot be stored: PostgreSQL keeps up to 131072 digits before the point and 16383 after it.";
    private const string NullItem = "A list cannot hold null.";

    /// <summary>The errors of a request record, or of a free-form <see cref="JsonElement"/> at <paramref name="path"/>, by JSON path.</summary>
    public static Dictionary<string, string[]> Validate(object value, string path = "") =>
        (value is JsonElement ? Check(value, path) : Errors(value, path)).GroupBy(e => e.Path.Length == 0 ? "body" : e.Path, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(e => e.Message).Distinct(StringComparer.Ordinal).ToArray(), StringComparer.Ordinal);

    private static IEnumerable<(string Path, string Message)> Errors(object value, string path)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true);
        return results.SelectMany(r => r.MemberNames.DefaultIfEmpty("").Select(member => (Join(path, member), r.ErrorMessage ?? "The value is invalid.")))
            .Concat(value.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0)
                .SelectMany(p => Check(p.GetValue(value), Join(path, p.Name))));
    }

    // System.Text.Json already refuses invalid UTF-8 and unpaired surrogates in a string property, but reads a NUL.
    private static IEnumerable<(string Path, string Message)> Check(object? value, string path) => value switch
    {
        string text => text.Contains('\0', StringComparison.Ordinal) ? [(path, InvalidText)] : [],
        JsonElement json => Unstorable(json, path),
        IEnumerable items => items.Cast<object?>().SelectMany((item, i) => item is null ? [($"{path}[{i}]", NullItem)] : Check(item, $"{path}[{i}]")),
        { } contract when contract.GetType() is { IsClass: true } type && type.Assembly == typeof(QlawJson).Assembly => Errors(contract, path),
        _ => [],
    };

    // GetString and Name throw for invalid UTF-8 and an escaped unpaired surrogate; jsonb refuses \u0000 as well.
    private static IEnumerable<(string Path, string Message)> Unstorable(JsonElement element, string path) => element.ValueKind switch
    {
        JsonValueKind.String => Storable(element.GetString) ? [] : [(path, InvalidText)],
        JsonValueKind.Number => FitsNumeric(element.GetRawText()) ? [] : [(path, NumberOutOfRange)],
        JsonValueKind.Array => element.EnumerateArray().SelectMany((item, i) => Unstorable(item, $"{path}[{i}]")),
        JsonValueKind.Object => element.EnumerateObject().SelectMany(p => Storable(() => p.Name) ? Unstorable(p.Value, path.Length == 0 ? p.Name : $"{path}.{p.Name}") : [(path, InvalidText)]),
        _ => [],
    };

    // A jsonb number is PostgreSQL's numeric: at most 131,072 digits before the point and 16,383 after it, and an
    // exponent PostgreSQL reads (half of int.MaxValue), whatever the digits.
    private const long MaxExponent = int.MaxValue / 2;

    private static bool FitsNumeric(string number)
    {
        var e = number.IndexOfAny(['e', 'E']);
        var mantissa = (e < 0 ? number : number[..e]).TrimStart('-');
        if (!long.TryParse(e < 0 ? "0" : number[(e + 1)..], out var exponent) || exponent is > MaxExponent or < -MaxExponent)
        {
            return false;
        }

        var point = mantissa.IndexOf('.');
        var digits = mantissa.Replace(".", "", StringComparison.Ordinal);
        var leadingZeros = digits.Length - digits.TrimStart('0').Length;
        var before = leadingZeros == digits.Length ? 0 : (point < 0 ? mantissa.Length : point) - leadingZeros + exponent;
        var after = (point < 0 ? 0 : mantissa.Length - point - 1) - exponent;
        return before <= 131_072 && after <= 16_383;
    }

    private static bool Storable(Func<string?> read)
    {
        try
        {
            return read() is { } text && !text.Contains('\0', StringComparison.Ordinal);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    // A member's JSON name is snake_case, as QlawJson writes it (rules of IValidatableObject name theirs already).
    private static string Join(string prefix, string member) => $"{prefix}.{JsonNamingPolicy.SnakeCaseLower.ConvertName(member)}".Trim('.');
}
