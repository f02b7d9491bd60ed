using System.Globalization;
using System.Text.Json.Nodes;
using Npgsql;
using Qlaw.Bench.Clients;
using Qlaw.Bench.Measure;
using Qlaw.Bench.Report;
using Qlaw.Bench.Stack;

namespace Qlaw.Bench.Scenarios;

/// <summary>
/// Many runs that fail for good (the scripted model's <c>fail_permanent</c>), started through the API: every one is
/// dead-lettered and waits for <c>continue</c>, is abandoned after <c>Recovery:AbandonDeadLettersAfterSeconds</c> with
/// its orchestration terminated, and deleted after <c>Retention:DeleteRunsAfterSeconds</c> with every row it wrote and
/// its hub history. Reports when each bound was reached and what is left: orchestrations waiting, rows, hub instances.
/// </summary>
internal static class DeadLetters
{
    public const string Workflow = "bench-dead-letters";

    /// <summary>How long the scenario may take from its first POST; what has not happened by then is reported as missing.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromMinutes(50);

    /// <summary>Time left after the last start for its run to be dead-lettered, abandoned and deleted, beyond the two bounds.</summary>
    public static readonly TimeSpan FollowThrough = TimeSpan.FromMinutes(7);

    /// <summary>The time the scenario may add to the bench's hard limit.</summary>
    public static readonly TimeSpan ExtraTime = Limit + TimeSpan.FromMinutes(3);

    /// <summary>
    /// Clients starting runs at once: enough to take the slots abandoned dead letters free within a second, few enough
    /// that their refused retries (one a second each, while the cap is reached) cost the server little.
    /// </summary>
    public const int StartConcurrency = 16;

    private static readonly string[] Tables = ["runs", "steps", "handoffs", "run_events", "audit_logs", "run_signals"];

    public static async Task<ReportSection> RunAsync(BenchStack stack, int runs, Action<string> log, CancellationToken cancellationToken)
    {
        var profile = ServerProfile.DeadLetters();
        log($"Starting Qlaw.Server ({profile.Name}, hub {profile.Hub.HubName})");
        await using var server = await stack.StartServerAsync(profile);
        var abandonSeconds = int.Parse(server.Setting("Recovery:AbandonDeadLettersAfterSeconds")!, CultureInfo.InvariantCulture);
        var retentionSeconds = int.Parse(server.Setting("Retention:DeleteRunsAfterSeconds")!, CultureInfo.InvariantCulture);
        var api = new QlawApi(server.Http);
        await api.CreateWorkflowAsync(Definition(), cancellationToken);
        var fates = new RunFates(stack.Database, Workflow);
        using var hub = new HubInstances(profile.Hub, stack.StorageConnection);
        var cpu = CpuWindow.Start(new StackProcesses(server.ProcessId, stack.PostgresProcessId, stack.AzuriteProcessIds));
        await using var sampler = WaveSampler.Start(server.ProcessId);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(Limit);
        var progress = new DeadLetterProgress(BenchClock.Now, log);
        using var polling = new CancellationTokenSource();
        var poller = PollAsync(fates, log, polling.Token);
        try
        {
            progress.Refused = await StartAsync(api, fates, runs, StartWindow(abandonSeconds, retentionSeconds), limit.Token);
            progress.Reached("starts done", $"{fates.All().Count} started, {progress.Refused} POSTs refused");
            await progress.UntilAsync("all dead-lettered", () => fates.All().All(f => f.Fate.DeadLetteredAt is not null || f.Fate.Other is not null), limit.Token);
            progress.WaitingAtLastDeadLetter = await hub.WaitingAsync(limit.Token);

            // The last run's abandon time: from then on, no orchestration should wait.
            var lastDeadLetter = fates.All().Max(f => f.Fate.DeadLetteredAt ?? DateTime.MinValue);
            await DelayUntilAsync(lastDeadLetter.AddSeconds(abandonSeconds), limit.Token);
            progress.WaitingAtAbandonTime = await hub.WaitingAsync(limit.Token);
            await progress.UntilAsync("none waiting", async () => fates.All().All(f => f.Fate.AbandonedAt is not null) && await hub.WaitingAsync(limit.Token) == 0, limit.Token, everyMs: 5000);

            var lastAbandoned = fates.All().Max(f => f.Fate.AbandonedAt ?? DateTime.MinValue);
            await DelayUntilAsync(lastAbandoned.AddSeconds(retentionSeconds), limit.Token);
            await progress.UntilAsync("all deleted", () => fates.All().All(f => f.Fate.GoneAt is not null), limit.Token);
            await progress.UntilAsync("hub empty", async () => await hub.StoredAsync(limit.Token) == 0, limit.Token, everyMs: 5000);
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            log($"The scenario's limit of {Limit.TotalMinutes:0} min passed; reporting how far it got");
        }
        finally
        {
            await polling.CancelAsync();
            await poller;
        }

        var usage = cpu.Stop();
        var peaks = await sampler.StopAsync();
        var rows = await RowsLeftAsync(stack.Database, [.. fates.All().Select(f => f.RunId)]);
        var stored = await hub.StoredAsync(cancellationToken);
        var waiting = await hub.WaitingAsync(cancellationToken);
        return DeadLetterReport.Section(runs, server, abandonSeconds, retentionSeconds, fates, progress, rows, waiting, stored, usage, peaks);
    }

    /// <summary>How long runs are started: what of <see cref="Limit"/> the last ones do not need to reach both bounds.</summary>
    public static TimeSpan StartWindow(int abandonSeconds, int retentionSeconds) =>
        Limit - TimeSpan.FromSeconds(abandonSeconds + retentionSeconds) - FollowThrough;

    /// <summary>One agent whose every attempt fails permanently: no retry, the run is dead-lettered at its first turn.</summary>
    public static JsonObject Definition() => new()
    {
        ["name"] = Workflow,
        ["description"] = "Benchmark load: a run that fails for good at its first turn and waits for continue.",
        ["start_agent"] = "worker",
        ["agents"] = new JsonArray(new JsonObject
        {
            ["name"] = "worker",
            ["role"] = "coder",
            ["script"] = new JsonArray(new JsonObject { ["say"] = "trying", ["call"] = "complete", ["fail_permanent"] = true }),
        }),
        ["model"] = new JsonObject { ["provider"] = "scripted" },
    };

    // Starts the runs, StartConcurrency clients each starting one after the other and retrying a refused POST after its
    // Retry-After, until every run is started or `until` passes; returns how many POSTs were refused.
    private static async Task<int> StartAsync(QlawApi api, RunFates fates, int runs, TimeSpan until, CancellationToken cancellationToken)
    {
        using var giveUp = new CancellationTokenSource(until);
        var (claimed, refused) = (0, 0);
        async Task ClientAsync()
        {
            while (!giveUp.IsCancellationRequested && Interlocked.Increment(ref claimed) <= runs)
            {
                var (runId, tries) = await api.StartRunPatientlyAsync(Workflow, giveUp.Token, cancellationToken);
                Interlocked.Add(ref refused, tries);
                if (runId is { } id)
                {
                    fates.Accepted(id);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, StartConcurrency).Select(_ => Task.Run(ClientAsync, cancellationToken)));
        return refused;
    }

    // Reads the runs' rows every second until stopped, and logs how far they got every minute.
    private static async Task PollAsync(RunFates fates, Action<string> log, CancellationToken stop)
    {
        try
        {
            for (var second = 1; !stop.IsCancellationRequested; second++)
            {
                await fates.PollAsync(stop);
                if (second % 60 == 0)
                {
                    var all = fates.All();
                    log($"Dead letters: {all.Count} started, {all.Count(f => f.Fate.DeadLetteredAt is not null)} dead-lettered, " +
                        $"{all.Count(f => f.Fate.AbandonedAt is not null)} abandoned, {all.Count(f => f.Fate.GoneAt is not null)} deleted");
                }

                await Task.Delay(1000, stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The scenario is over.
        }
    }

    private static async Task DelayUntilAsync(DateTime utc, CancellationToken cancellationToken)
    {
        var wait = utc - BenchClock.ToUtc(BenchClock.Now);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken);
        }
    }

    // Rows the runs left in each table that holds a run's history, in the order of Tables.
    private static async Task<long[]> RowsLeftAsync(NpgsqlDataSource database, Guid[] ids)
    {
        var sql = "SELECT " + string.Join(", ", Tables.Select(t => $"(SELECT count(*) FROM {t} WHERE {(t == "runs" ? "id" : "run_id")} = ANY($1))"));
        await using var command = database.CreateCommand(sql);
        command.Parameters.Add(new() { Value = ids });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return [.. Tables.Select((_, i) => reader.GetInt64(i))];
    }

    /// <summary>The tables a run's history is kept in, in the order <see cref="RowsLeftAsync"/> counts them.</summary>
    public static IReadOnlyList<string> HistoryTables => Tables;
}
