using Qlaw.Contracts;

namespace Qlaw.Core.Paging;

/// <summary>A validated keyset page request: up to <see cref="Limit"/> items whose id follows <see cref="After"/>.</summary>
public sealed record PageRequest(int Limit, Guid? After)
{
    /// <summary>Reads <c>limit</c> and <c>after</c> as a client sent them; errors name the query field.</summary>
    public static bool TryParse(int? limit, string? after, out PageRequest page, out Dictionary<string, string[]> errors)
    {
        errors = [];
        page = new PageRequest(limit ?? ListPage<object>.DefaultLimit, null);
        if (limit is < 1 or > ListPage<object>.MaxLimit)
        {
            errors["limit"] = [$"The limit must be between 1 and {ListPage<object>.MaxLimit}."];
        }

        if (after is not null)
        {
            if (Guid.TryParse(after, out var afterId))
            {
                page = page with { After = afterId };
            }
            else
            {
                errors["after"] = ["The cursor must be the id of the last item of the previous page."];
            }
        }

        return errors.Count == 0;
    }

    /// <summary>
    /// Cuts a fetched list of <c>Limit + 1</c> rows into a page; with <paramref name="size"/> the page also stops once its
    /// rows pass <see cref="ListPages.MaxBytes"/> (it keeps at least one).
    /// </summary>
    internal ListPage<T> ToPage<T>(List<T> rows, Func<T, Guid> id, Func<T, long>? size = null)
    {
        var keep = size is null ? Math.Min(rows.Count, Limit) : Fit(rows, Limit, size);
        var hasMore = rows.Count > keep;
        rows.RemoveRange(keep, rows.Count - keep);
        return new ListPage<T>(rows, hasMore, rows.Count > 0 ? id(rows[^1]).ToString() : null);
    }

    /// <summary>
    /// How many of <paramref name="rows"/> a page keeps: at most <paramref name="limit"/>, and no more than fit in
    /// <see cref="ListPages.MaxBytes"/> by <paramref name="size"/> — but always one.
    /// </summary>
    internal static int Fit<T>(IReadOnlyList<T> rows, int limit, Func<T, long> size)
    {
        var kept = 0;
        for (long bytes = 0; kept < Math.Min(rows.Count, limit) && (kept == 0 || bytes + size(rows[kept]) <= ListPages.MaxBytes); kept++)
        {
            bytes += size(rows[kept]);
        }

        return kept;
    }
}
