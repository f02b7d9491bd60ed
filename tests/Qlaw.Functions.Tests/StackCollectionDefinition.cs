using Qlaw.Testing;

namespace Qlaw.Functions.Tests;

/// <summary>Test classes of this collection share one <see cref="QlawStackFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class StackCollectionDefinition : ICollectionFixture<QlawStackFixture>
{
    public const string Name = "functions-stack";
}
