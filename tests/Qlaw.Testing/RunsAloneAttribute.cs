namespace Qlaw.Testing;

/// <summary>
/// On a late collection's definition: it runs after the other late collections, with nothing beside it
/// (<see cref="LateCollectionsTestFramework"/>), for tests that fail when the machine is busy.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class RunsAloneAttribute : Attribute;
