namespace Qlaw.Bench.Scenarios;

/// <summary>Runs an operation <c>total</c> times with at most <c>concurrency</c> at once, each worker starting the next when one ends; or once per item.</summary>
internal static class ClosedLoop
{
    public static async Task<(List<T> Results, double Seconds)> RunAsync<T>(int concurrency, int total, Func<CancellationToken, Task<T>> operation, CancellationToken cancellationToken)
    {
        var results = new List<T>(total);
        var next = 0;
        var started = Measure.BenchClock.Now;
        async Task WorkerAsync()
        {
            while (Interlocked.Increment(ref next) <= total)
            {
                var result = await operation(cancellationToken);
                lock (results)
                {
                    results.Add(result);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(WorkerAsync, cancellationToken)));
        return (results, Measure.BenchClock.Milliseconds(started, Measure.BenchClock.Now) / 1000);
    }

    /// <summary>
    /// <paramref name="operation"/> of every item, at most <paramref name="concurrency"/> at once, the results in the
    /// items' order: a server that takes a thousand requests at once resets the connections its listen queue cannot hold.
    /// </summary>
    public static async Task<TResult[]> MapAsync<TItem, TResult>(
        IEnumerable<TItem> items, int concurrency, Func<TItem, Task<TResult>> operation, CancellationToken cancellationToken)
    {
        using var slots = new SemaphoreSlim(concurrency);
        return await Task.WhenAll(items.Select(async item =>
        {
            await slots.WaitAsync(cancellationToken);
            try
            {
                return await operation(item);
            }
            finally
            {
                slots.Release();
            }
        }));
    }
}
