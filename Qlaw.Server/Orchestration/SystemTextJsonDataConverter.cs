using System.Text.Json;
using DurableTask.Core.Serializing;

namespace Qlaw.Server.Orchestration;

/// <summary>
/// DurableTask.Core's client serializes with Newtonsoft by default; the Microsoft.DurableTask orchestrator reads with
/// System.Text.Json. This converter makes the client write what the orchestrator reads.
/// </summary>
internal sealed class SystemTextJsonDataConverter : DataConverter
{
    public override string Serialize(object value) => Serialize(value, formatted: false);

    public override string Serialize(object value, bool formatted) =>
        JsonSerializer.Serialize(value, value?.GetType() ?? typeof(object), formatted ? Indented : Compact);

    public override object Deserialize(string data, Type objectType) => JsonSerializer.Deserialize(data, objectType, Compact)!;

    private static readonly JsonSerializerOptions Compact = new();
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
