namespace Qlaw.Contracts;

/// <summary>
/// One page of a list in creation order. While <see cref="HasMore"/> is true, ask for the next page with
/// <c>?after={last_id}</c>. A page holds at most <c>limit</c> items, and stops early once its items pass
/// <see cref="ListPages.MaxBytes"/> (it always holds one).
/// </summary>
public sealed record ListPage<T>(IReadOnlyList<T> Data, bool HasMore, string? LastId)
{
    public const int DefaultLimit = 20;
    public const int MaxLimit = 100;
}

/// <summary>The bounds of every list page.</summary>
public static class ListPages
{
    /// <summary>A page's items stop once their stored size passes this (1 MiB), whatever the limit asked for.</summary>
    public const int MaxBytes = 1024 * 1024;
}
