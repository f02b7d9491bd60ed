namespace Qlaw.Contracts.Events;

/// <summary>
/// Names the events (SSE <c>event:</c> names, trace <c>event_type</c>s or audit types) whose payload a record is, so
/// that <c>docs/events.md</c> can be checked against the types.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class RunEventAttribute(params string[] names) : Attribute
{
    public IReadOnlyList<string> Names { get; } = names;
}
