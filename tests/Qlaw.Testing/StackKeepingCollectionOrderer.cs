using Xunit.Abstractions;
using Xunit.Sdk;

namespace Qlaw.Testing;

/// <summary>
/// xunit's default order of test collections, telling the <see cref="SharedStack"/> what comes: when collections that
/// run in parallel on it are followed by one that runs alone after them, the stack they release last is kept for that
/// one instead of being stopped and started again (initdb, Azurite and the template's migration, on a busy machine).
/// A test assembly opts in with
/// <c>[assembly: TestCollectionOrderer(StackKeepingCollectionOrderer.TypeName, StackKeepingCollectionOrderer.AssemblyName)]</c>.
/// </summary>
public sealed class StackKeepingCollectionOrderer : ITestCollectionOrderer
{
    public const string TypeName = "Qlaw.Testing.StackKeepingCollectionOrderer";

    public const string AssemblyName = "Qlaw.Testing";

    private readonly DefaultTestCollectionOrderer _default = new();

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections)
    {
        var ordered = _default.OrderTestCollections(testCollections).ToList();
        var onStack = ordered.Select(c => c.CollectionDefinition).OfType<IReflectionTypeInfo>().Select(t => t.Type)
            .Where(t => t.GetInterfaces().Contains(typeof(ICollectionFixture<QlawStackFixture>))).ToList();
        if (onStack.Any(RunsAlone) && !onStack.TrueForAll(RunsAlone))
        {
            SharedStack.KeepOverNextRelease();
        }

        return ordered;
    }

    private static bool RunsAlone(Type definition) =>
        definition.GetCustomAttributes(typeof(CollectionDefinitionAttribute), inherit: false)
            .OfType<CollectionDefinitionAttribute>().Any(a => a.DisableParallelization);
}
