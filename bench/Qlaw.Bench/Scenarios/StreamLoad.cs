using Qlaw.Bench.Clients;
using Qlaw.Bench.Measure;
using Qlaw.Bench.Stack;

namespace Qlaw.Bench.Scenarios;

/// <summary>What clients following streaming runs saw during the measurement window.</summary>
internal sealed record StreamLoadResult(
    int Runs,
    int Clients,
    int Connected,
    double ConnectSeconds,
    double WindowSeconds,
    int EventsInWindow,
    int DeltasInWindow,
    long FramesInWindow,
    long Missing,
    Distribution Lag,
    long BaselineRss,
    long PeakRss,
    CpuUsage Cpu)
{
    public double RssPerClientKiB => Clients == 0 ? double.NaN : (PeakRss - BaselineRss) / 1024.0 / Clients;
}

/// <summary>
/// Starts runs of a streaming workflow, attaches clients to each (joining live: <c>?starting_after=</c> the run's
/// latest event), and once all are connected measures a fixed window: every event committed in it, when each client
/// received it (lag = receipt − the event's commit timestamp), what none received, server memory and CPU. Then cancels
/// the runs and disconnects.
/// </summary>
internal static class StreamLoad
{
    private const int ConnectingAtOnce = 100;

    public static async Task<StreamLoadResult> MeasureAsync(
        BenchStack stack, BenchServer server, string workflow, int runs, int clientsPerRun, TimeSpan window, long baselineRss, CancellationToken cancellationToken)
    {
        var api = new QlawApi(server.Http);
        var processes = new StackProcesses(server.ProcessId, stack.PostgresProcessId, stack.AzuriteProcessIds);
        var ids = await Task.WhenAll(Enumerable.Range(0, runs).Select(_ => api.StartRunAsync(workflow, cancellationToken)));

        var total = runs * clientsPerRun;
        var (connected, settled) = (0, 0);
        var allSettled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var gate = new SemaphoreSlim(ConnectingAtOnce);
        using var stopClients = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var connectStartedAt = BenchClock.Now;
        var clients = new List<(Guid RunId, Task<SseReading> Reading)>(total);

        // Every client settles once: connected, or failed before its headers (then it counts as not connected).
        void Settle(bool ok)
        {
            if (ok)
            {
                Interlocked.Increment(ref connected);
            }

            if (Interlocked.Increment(ref settled) == total)
            {
                allSettled.TrySetResult();
            }
        }

        foreach (var runId in ids)
        {
            var after = await EventLog.LastIdAsync(stack.Database, runId);
            for (var c = 0; c < clientsPerRun; c++)
            {
                await gate.WaitAsync(cancellationToken);
                clients.Add((runId, FollowAsync(server.Http, runId, after, gate, Settle, stopClients.Token)));
            }
        }

        long windowStart, windowEnd, peakRss = baselineRss;
        CpuUsage usage;
        SseReading[] readings;
        try
        {
            await allSettled.Task.WaitAsync(TimeSpan.FromSeconds(120), cancellationToken);
            windowStart = BenchClock.Now;
            var cpu = CpuWindow.Start(processes);
            windowEnd = windowStart + (long)(window.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
            while (BenchClock.Now < windowEnd)
            {
                peakRss = Math.Max(peakRss, ProcessStats.RssBytes(server.ProcessId));
                await Task.Delay(200, cancellationToken);
            }

            windowEnd = BenchClock.Now;
            usage = cpu.Stop();
            await Task.WhenAll(ids.Select(id => api.CancelAsync(id, cancellationToken)));

            // Events committed at the end of the window are given a moment to arrive before the clients hang up.
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        }
        finally
        {
            await stopClients.CancelAsync();
            readings = await Task.WhenAll(clients.Select(c => c.Reading));
        }

        var events = await EventLog.ReadAsync(stack.Database, ids);
        var (from, to) = (BenchClock.ToUtc(windowStart), BenchClock.ToUtc(windowEnd));
        var inWindow = events.Values.Where(e => e.CommittedAt >= from && e.CommittedAt <= to).ToList();
        var expectedPerRun = inWindow.GroupBy(e => e.RunId).ToDictionary(g => g.Key, g => g.Select(e => e.Id).ToHashSet());
        var lags = new List<double>();
        long frames = 0, missing = 0;
        for (var i = 0; i < clients.Count; i++)
        {
            var expected = expectedPerRun.GetValueOrDefault(clients[i].RunId) ?? [];
            var seen = 0;
            foreach (var frame in readings[i].Frames)
            {
                if (expected.Contains(frame.Id))
                {
                    seen++;
                    lags.Add((BenchClock.ToUtc(frame.ReceivedAt) - events[frame.Id].CommittedAt).TotalMilliseconds);
                }
            }

            frames += seen;
            missing += expected.Count - seen;
        }

        return new StreamLoadResult(
            runs, total, connected, BenchClock.Milliseconds(connectStartedAt, windowStart) / 1000, BenchClock.Milliseconds(windowStart, windowEnd) / 1000,
            inWindow.Count, inWindow.Count(e => e.IsDelta), frames, missing, new Distribution(lags), baselineRss, peakRss, usage);
    }

    /// <summary>Waits until quiet: cancelled runs finish the turn they are in before they stop.</summary>
    public static Task SettleAsync(CancellationToken cancellationToken) => Task.Delay(TimeSpan.FromSeconds(3), cancellationToken);

    private static async Task<SseReading> FollowAsync(HttpClient http, Guid runId, long after, SemaphoreSlim gate, Action<bool> settle, CancellationToken cancellationToken)
    {
        var settled = 0;
        void Settle(bool ok)
        {
            if (Interlocked.Exchange(ref settled, 1) == 0)
            {
                gate.Release();
                settle(ok);
            }
        }

        await Task.Yield();
        try
        {
            return await SseReader.ReadAsync(http, $"/v1/runs/{runId}/responses?starting_after={after}", cancellationToken, () => Settle(true));
        }
        finally
        {
            Settle(false);
        }
    }
}
