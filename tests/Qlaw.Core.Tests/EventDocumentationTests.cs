using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Qlaw.Contracts;
using Qlaw.Contracts.Events;

namespace Qlaw.Core.Tests;

/// <summary>docs/events.md keeps up with the typed payloads of Qlaw.Contracts/Events, and they with it.</summary>
public sealed partial class EventDocumentationTests
{
    private static readonly Type[] Payloads = [.. typeof(RunEventAttribute).Assembly.GetTypes().Where(t => t.GetCustomAttribute<RunEventAttribute>() is not null)];

    [Fact]
    public void Every_field_of_every_event_and_audit_payload_is_in_the_docs_row_of_its_event()
    {
        var rows = DocumentedRows();

        var missing = Payloads
            .SelectMany(type => type.GetCustomAttribute<RunEventAttribute>()!.Names.Select(name => (type, name)))
            .SelectMany(p => rows.TryGetValue(p.name, out var row)
                ? JsonNames(p.type).Where(field => !Regex.IsMatch(row, $@"\b{field}\b")).Select(field => $"{p.name}: {field} ({p.type.Name})")
                : [$"{p.name}: no row ({p.type.Name})"])
            .ToList();

        Assert.Empty(missing);
    }

    [Fact]
    public void Every_event_the_docs_name_has_a_payload_type()
    {
        var typed = Payloads.SelectMany(t => t.GetCustomAttribute<RunEventAttribute>()!.Names).ToHashSet();
        var untyped = DocumentedRows().Keys.Where(name => !typed.Contains(name)).ToList();

        Assert.Empty(untyped);
    }

    [Fact]
    public void Payloads_are_sealed_records_and_serialize_with_the_shared_snake_case_options()
    {
        Assert.All(Payloads, t => Assert.True(t.IsSealed && t.GetMethod("<Clone>$") is not null, t.Name));
        var json = JsonSerializer.Serialize(new StepFailed(1, "coder", 2, "boom", "model_unavailable", true), QlawJson.Options);

        Assert.Equal("""{"step":1,"agent":"coder","attempt":2,"error":"boom","code":"model_unavailable","transient":true}""", json);
    }

    // The rows of the event, trace and audit tables: first cell's name → the whole row (rows of one name joined).
    private static Dictionary<string, string> DocumentedRows()
    {
        var doc = File.ReadAllText(Path.Combine(Root(), "docs", "events.md"));
        var tables = doc[doc.IndexOf("## Event types", StringComparison.Ordinal)..doc.IndexOf("## Error codes", StringComparison.Ordinal)];
        var lines = tables.Split('\n');

        // A table's header row is followed by its |---| line.
        return lines.Where((line, i) => i + 1 >= lines.Length || !lines[i + 1].StartsWith("|---", StringComparison.Ordinal))
            .Select(line => FirstCell().Match(line))
            .Where(m => m.Success)
            .GroupBy(m => m.Groups["name"].Value, m => m.Value)
            .ToDictionary(g => g.Key, g => string.Join('\n', g));
    }

    private static IEnumerable<string> JsonNames(Type type) =>
        type.GetProperties()
            .Where(p => p.GetCustomAttribute<JsonIgnoreAttribute>() is null && p.Name != "Type" && p.Name != "EqualityContract")
            .Select(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? QlawJson.Options.PropertyNamingPolicy!.ConvertName(p.Name));

    private static string Root()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(directory!.FullName, "Qlaw.sln")))
        {
            directory = directory.Parent;
        }

        return directory.FullName;
    }

    [GeneratedRegex(@"^\| `(?<name>[^`]+)` \|.*$")]
    private static partial Regex FirstCell();
}
