using System.Runtime.InteropServices;
using Qlaw.AppHost.LocalStack;
using Qlaw.Bench.Clients;
using Qlaw.Bench.Engine;
using Qlaw.Bench.Report;
using Qlaw.Bench.Scenarios;
using Qlaw.Bench.Stack;

namespace Qlaw.Bench;

/// <summary>
/// <c>dotnet run -c Release --project bench/Qlaw.Bench -- [latency] [throughput] [fanout] [writes] [recovery] [chaos] [peer] [paced] [deadletters] [tools] [--quick] [--seed N] [--pace 500/30/50] [--no-peer]</c>:
/// starts its own PostgreSQL, Azurite and Qlaw.Server on free ports, runs the scenarios (all but <c>peer</c>,
/// <c>paced</c>, <c>deadletters</c> and <c>tools</c> by default), prints the report, saves it under .local/bench/ and,
/// after a full run of every scenario, writes it into docs/benchmarks.md; a full run of <c>latency throughput peer</c>
/// writes the side-by-side table there, and a full run of <c>paced</c>, <c>deadletters</c> or <c>tools</c> its own section.
/// </summary>
internal static class BenchProgram
{
    private static readonly string[] Scenarios = ["latency", "throughput", "fanout", "writes", "recovery", "chaos", "peer", "paced", "deadletters", "tools"];

    // Run only when named: the peer needs its own npm install, the paced and dead-letter scenarios each take longer than
    // the rest, and the tool-call cost has its own section.
    private static readonly string[] Named = ["peer", "paced", "deadletters", "tools"];
    private static readonly TimeSpan HardLimit = TimeSpan.FromMinutes(25);

    public static async Task<int> Main(string[] args)
    {
        var seedAt = Array.IndexOf(args, "--seed");
        if (seedAt >= 0 && (seedAt + 1 >= args.Length || !int.TryParse(args[seedAt + 1], out _)))
        {
            Console.Error.WriteLine("--seed takes a whole number (the chaos run's fault moments).");
            return 2;
        }

        var paceAt = Array.IndexOf(args, "--pace");
        var pace = paceAt < 0 ? PacedModel.DefaultPace : paceAt + 1 < args.Length ? PacedModel.ParsePace(args[paceAt + 1]) : null;
        if (pace is null)
        {
            Console.Error.WriteLine("--pace takes first-token-ms/tokens/token-ms, e.g. 500/30/50 (the paced model's pace).");
            return 2;
        }

        var seed = seedAt >= 0 ? int.Parse(args[seedAt + 1], System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next(1, 100_000);
        var chosen = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (seedAt < 0 || i != seedAt + 1) && (paceAt < 0 || i != paceAt + 1))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        if (chosen.Except(Scenarios).FirstOrDefault() is { } unknown)
        {
            Console.Error.WriteLine($"Unknown scenario '{unknown}'. Scenarios: {string.Join(", ", Scenarios)} (all but {string.Join(", ", Named)} when none is named); --quick for a short version; --seed N for the chaos run's moments; --pace 500/30/50 for the paced model's.");
            return 2;
        }

        // Every scenario when none is named, or when all of them are (with the peer too: the side-by-side from one run).
        var everything = chosen.Count == 0 || Scenarios.Except(Named).All(chosen.Contains);
        bool Runs(string scenario) => (everything && !Named.Contains(scenario)) || chosen.Contains(scenario);
        var scale = args.Contains("--quick") ? BenchScale.Quick : BenchScale.Full;
        BenchServer.Echo = args.Contains("--echo-server");

        var hardLimit = HardLimit + (Runs("paced") ? PacedModel.ExtraTime : TimeSpan.Zero) + (Runs("deadletters") ? DeadLetters.ExtraTime : TimeSpan.Zero);
        using var stop = new CancellationTokenSource(hardLimit);
        // Ctrl+C or a SIGTERM (`timeout`, a CI runner) stops the scenarios, and the stack is removed on the way out.
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }

        using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

        var command = "dotnet run -c Release --project bench/Qlaw.Bench" + (args.Length > 0 ? " -- " + string.Join(' ', args) : "");
        try
        {
            Log($"Starting PostgreSQL and Azurite ({(scale.IsFull ? "full" : "quick")} scale)");
            await using var stack = await BenchStack.StartAsync(azuriteOnDisk: !args.Contains("--azurite-in-memory"), azuriteOneProcess: args.Contains("--azurite-one-process"), azuriteDebug: args.Contains("--azurite-debug"), pgStatements: args.Contains("--pg-statements"));
            var report = new BenchReport(stack.Repository, command)
            {
                PostgresVersion = await PostgresVersionAsync(stack),
                AzuriteOnDisk = stack.AzuriteOnDisk,
                AzuriteOneProcess = stack.AzuriteOneProcess,
            };
            var comparison = new SideBySide();

            if (Runs("latency") || Runs("throughput"))
            {
                var profile = ServerProfile.ZeroLatency();
                await using var server = await StartAsync(stack, profile);
                await using var engine = await BareEngine.StartAsync(profile.Hub with { HubName = HubSettings.Fresh("bb").HubName }, stack.StorageConnection);
                if (Runs("latency"))
                {
                    Log("Run latency");
                    report.Sections.Add(await RunLatency.RunAsync(stack.Database, server, engine, scale, comparison, stop.Token));
                }

                if (Runs("throughput"))
                {
                    Log("Job throughput");
                    report.Sections.Add(await JobThroughput.RunAsync(stack, server, engine, scale, comparison, stop.Token));
                }
            }

            if (Runs("fanout"))
            {
                await using var server = await StartAsync(stack, ServerProfile.PacedStream());
                Log("SSE fan-out");
                report.Sections.Add(await SseFanOut.RunAsync(stack, server, scale, stop.Token));
            }

            if (Runs("writes"))
            {
                await using var server = await StartAsync(stack, ServerProfile.Unbatched());
                Log("Write path");
                report.Sections.Add(await WritePath.RunAsync(stack, server, scale, stop.Token));
            }

            if (Runs("recovery"))
            {
                Log("Crash and restart recovery");
                report.Sections.Add(await CrashRecovery.RunAsync(stack, scale, stop.Token));
            }

            if (Runs("chaos"))
            {
                Log($"Chaos (seed {seed})");
                report.Sections.Add(await Chaos.RunAsync(stack, scale.IsFull ? ChaosPlan.Full(seed) : ChaosPlan.Quick(seed), stop.Token));
            }

            ReportSection[] peerSections = [];
            if (Runs("peer"))
            {
                Log("LangGraph.js peer");
                peerSections = [await LangGraphPeer.RunAsync(stack.Repository, scale, comparison, BenchServer.Echo, stop.Token), comparison.ToSection(scale.LatencyLevels[0].Runs, LangGraphPeer.SequentialRuns(scale), scale.ThroughputRuns)];
                report.Sections.AddRange(peerSections);
            }

            ReportSection[] pacedSections = [];
            if (Runs("paced"))
            {
                Log($"Paced model ({pace.FirstTokenMs} ms to the first token, then {pace.Tokens} tokens {pace.TokenMs} ms apart)");
                pacedSections = [await PacedModel.RunAsync(stack, scale, pace, BenchServer.Echo, withPeer: !args.Contains("--no-peer"), Log, stop.Token)];
                report.Sections.AddRange(pacedSections);
            }

            ReportSection[] deadLetterSections = [];
            if (Runs("deadletters"))
            {
                Log($"Dead letters ({scale.DeadLetterRuns} failing runs)");
                deadLetterSections = [await DeadLetters.RunAsync(stack, scale.DeadLetterRuns, Log, stop.Token)];
                report.Sections.AddRange(deadLetterSections);
            }

            ReportSection[] toolSections = [];
            if (Runs("tools"))
            {
                await using var server = await StartAsync(stack, ToolCallCost.Profile(stack.Repository));
                Log("Tool call cost");
                toolSections = [await ToolCallCost.RunAsync(stack, server, scale, stop.Token)];
                report.Sections.AddRange(toolSections);
            }

            Console.WriteLine();
            Console.WriteLine(report.ToMarkdown());
            Log($"Saved to {await report.SaveAsync()}");
            if (everything && scale.IsFull)
            {
                await report.UpdateDocumentAsync();
                Log("Updated docs/benchmarks.md");
            }

            if (Runs("latency") && Runs("throughput") && Runs("peer") && scale.IsFull)
            {
                await report.UpdatePeerDocumentAsync(peerSections);
                Log("Updated the side-by-side comparison in docs/benchmarks.md");
            }

            if (Runs("paced") && scale.IsFull && !args.Contains("--no-peer"))
            {
                await report.UpdatePacedDocumentAsync(pacedSections);
                Log("Updated the paced-model section in docs/benchmarks.md");
            }

            if (Runs("deadletters") && scale.IsFull)
            {
                await report.UpdateDeadLettersDocumentAsync(deadLetterSections);
                Log("Updated the dead-letter section in docs/benchmarks.md");
            }

            if (Runs("tools") && scale.IsFull)
            {
                await report.UpdateToolsDocumentAsync(toolSections);
                Log("Updated the tool-call section in docs/benchmarks.md");
            }

            return 0;
        }
        catch (Exception ex) when (ex is BenchException or LocalStackException or TimeoutException or HttpRequestException)
        {
            Console.Error.WriteLine($"bench: {ex.Message}");
            return 1;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Console.Error.WriteLine($"bench: stopped (interrupted, or the hard limit of {hardLimit.TotalMinutes:0} min passed).");
            return 1;
        }
    }

    private static async Task<BenchServer> StartAsync(BenchStack stack, ServerProfile profile)
    {
        Log($"Starting Qlaw.Server ({profile.Name}, hub {profile.Hub.HubName})");
        var server = await stack.StartServerAsync(profile);
        Log($"Qlaw.Server is ready (pid {server.ProcessId})");
        return server;
    }

    private static async Task<string> PostgresVersionAsync(BenchStack stack)
    {
        await using var command = stack.Database.CreateCommand("SELECT 'PostgreSQL ' || current_setting('server_version')");
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private static void Log(string message) => Console.WriteLine($"[bench {DateTime.Now:HH:mm:ss}] {message}");
}
