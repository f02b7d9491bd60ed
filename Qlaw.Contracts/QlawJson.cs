using System.Text.Json;
using System.Text.Json.Serialization;

namespace Qlaw.Contracts;

/// <summary>The one JSON shape of Qlaw: snake_case names and enum values, nulls left out, bounded depth.</summary>
public static class QlawJson
{
    /// <summary>Deepest JSON nesting accepted; a workflow definition needs far less.</summary>
    public const int MaxDepth = 32;

    /// <summary>Options used by both hosts, the database columns and the event stream.</summary>
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions());

    /// <summary>Applies Qlaw's conventions to <paramref name="options"/> (for example a host's own options instance).</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DictionaryKeyPolicy = null;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        options.MaxDepth = MaxDepth;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        return options;
    }

    /// <summary>The wire name of an enum value, e.g. <c>RunStatus.AwaitingInput</c> → <c>awaiting_input</c>.</summary>
    public static string EnumName<TEnum>(TEnum value) where TEnum : struct, Enum =>
        JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    /// <summary>Parses a wire name produced by <see cref="EnumName{TEnum}(TEnum)"/>.</summary>
    public static TEnum ParseEnum<TEnum>(string name) where TEnum : struct, Enum =>
        Enum.Parse<TEnum>(name.Replace("_", string.Empty, StringComparison.Ordinal), ignoreCase: true);

    /// <summary>Parses a wire name exactly as <see cref="EnumName{TEnum}(TEnum)"/> writes it; false for anything else.</summary>
    public static bool TryParseEnum<TEnum>(string name, out TEnum value) where TEnum : struct, Enum
    {
        value = Enum.GetValues<TEnum>().FirstOrDefault(v => EnumName(v) == name);
        return EnumName(value) == name;
    }
}
