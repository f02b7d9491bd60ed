using Qlaw.Data;

namespace Qlaw.Core.Tests;

public sealed class TimeOrderedIdTests
{
    [Fact]
    public void Ids_made_within_one_millisecond_still_increase_as_uuid_v7()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => TimeOrderedId.New()).ToList();

        Assert.Equal(ids, ids.Order());
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(ids, id => Assert.Equal(7, id.Version));
        Assert.All(ids, id => Assert.InRange(id.Variant, 8, 11));
    }

    [Fact]
    public void An_id_starts_with_its_creation_time()
    {
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        var id = TimeOrderedId.New();

        var milliseconds = Convert.ToInt64(id.ToString("N")[..12], 16);
        Assert.InRange(milliseconds, before, before + 60_000);
    }
}
