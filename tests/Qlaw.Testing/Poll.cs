namespace Qlaw.Testing;

/// <summary>Waits for a background effect to show (a bound on waiting, not a timing assertion).</summary>
public static class Poll
{
    /// <summary>Checks <paramref name="condition"/> every <paramref name="every"/> until it holds; fails with <paramref name="because"/> after <paramref name="within"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan within, TimeSpan every, string because)
    {
        var deadline = DateTime.UtcNow + within;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException(because);
            }

            await Task.Delay(every);
        }
    }
}
