namespace Qlaw.Contracts;

/// <summary>
/// One page of a list in creation order. While <see cref="HasMore"/> is true, ask for the next page with
/// <c>?after={last_id}</c>.
/// </summary>
public sealed record ListPage<T>(IReadOnlyList<T> Data, bool HasMore, string? LastId)
{
    public const int DefaultLimit = 20;
    public const int MaxLimit = 100;
}
