using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>Test classes in this collection share one <see cref="QlawStackFixture"/> (xunit needs it in the test assembly).</summary>
[CollectionDefinition(Name)]
public sealed class QlawStackCollectionDefinition : ICollectionFixture<QlawStackFixture>
{
    public const string Name = "qlaw-stack";
}
