using System.Globalization;
using Qlaw.Bench.Report;
using Qlaw.Bench.Stack;
using Qlaw.FakeModel;
using static Qlaw.Bench.Report.ReportSection;

namespace Qlaw.Bench.Scenarios;

/// <summary>
/// Runs that spend their time waiting on a model that answers at a real model's pace, as production runs do: Qlaw's
/// 3-agent chain and the LangGraph.js peer's 3-node graph on one fake OpenAI-compatible model in the bench process,
/// one run alone and then waves of runs started together. The makespan of a wave over one run alone says what running
/// many at once costs beyond the model's own time.
/// </summary>
internal static class PacedModel
{
    /// <summary>A real model's pace: half a second to the first token, then 30 tokens at 20/s — about 2 s a turn.</summary>
    public static FakeModelPace DefaultPace { get; } = new() { FirstTokenMs = 500, Tokens = 30, TokenMs = 50 };

    /// <summary>The time the scenario may add to the bench's hard limit: its waves are bounded one by one.</summary>
    public static TimeSpan ExtraTime { get; } = TimeSpan.FromMinutes(30);

    /// <summary><c>--pace 500/30/50</c>: first token ms / tokens / ms between tokens; null when it does not parse.</summary>
    public static FakeModelPace? ParsePace(string text)
    {
        var parts = text.Split('/');
        var numbers = parts.Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1).ToArray();
        return numbers is [>= 0 and var first, > 0 and var tokens, >= 0 and var tokenMs] ? new FakeModelPace { FirstTokenMs = first, Tokens = tokens, TokenMs = tokenMs } : null;
    }

    /// <summary>Runs Qlaw's waves and, <paramref name="withPeer"/> (all but <c>--no-peer</c> runs, for a quick look at Qlaw alone), the peer's.</summary>
    public static async Task<ReportSection> RunAsync(
        BenchStack stack, BenchScale scale, FakeModelPace pace, bool echo, bool withPeer, Action<string> log, CancellationToken cancellationToken)
    {
        await using var model = await FakeOpenAIServer.StartAsync(pace);
        var profile = ServerProfile.PacedModel(model.BaseUrl);
        log($"Starting Qlaw.Server ({profile.Name}, hub {profile.Hub.HubName}), the model at {model.BaseUrl}");
        (double AloneSeconds, List<PacedWave> Waves) qlaw;
        await using (var server = await stack.StartServerAsync(profile))
        {
            qlaw = await PacedQlaw.RunAsync(stack, server, model, scale, log, cancellationToken);
        }

        // The engine Qlaw runs on, on the same hub settings, its activities as long as a model call: the floor.
        var callTime = TimeSpan.FromMilliseconds(pace.FirstTokenMs + (pace.Tokens - 1) * pace.TokenMs);
        var engine = await PacedEngine.RunAsync(stack, profile.Hub, callTime, scale, log, cancellationToken);
        var peer = (AloneSeconds: 0.0, Waves: new List<PacedWave>(), Workers: 0);
        if (withPeer)
        {
            log("Starting the LangGraph.js peer on the same model");
            peer = await PacedPeer.RunAsync(stack.Repository, model, scale, echo, log, cancellationToken);
        }

        return Section(pace, scale, qlaw, engine, peer);
    }

    private static ReportSection Section(
        FakeModelPace pace, BenchScale scale, (double AloneSeconds, List<PacedWave> Waves) qlaw, (double AloneSeconds, List<PacedWave> Waves) engine,
        (double AloneSeconds, List<PacedWave> Waves, int Workers) peer)
    {
        var turnSeconds = (pace.FirstTokenMs + (pace.Tokens - 1) * pace.TokenMs) / 1000.0;
        string[] Alone(string system, double seconds) => [system, "1 alone", "", "", "", Number(seconds, "0.00"), "1.00", "", "", "", "", "", "", ""];
        string[] Row(string system, PacedWave w, double alone) =>
        [
            system, w.Runs.ToString(CultureInfo.InvariantCulture), w.Completed.ToString(CultureInfo.InvariantCulture), w.Failed.ToString(CultureInfo.InvariantCulture), Number(w.PostedSeconds, "0.0"),
            w.TimedOut ? $"> {Number(w.Seconds, "0")} (last end {Number(w.LastEndedSeconds, "0.0")})" : Number(w.Seconds, "0.0"), (w.TimedOut ? "> " : "") + Number(w.Seconds / alone, "0.00"),
            w.Turns is { } turns ? $"{Number(turns.P50 / 1000, "0.00")} / {Number(turns.P90 / 1000, "0.00")}" : "–",
            w.Gaps is { } gaps ? $"{Number(gaps.Start.P50 / 1000, "0.00")} / {Number(gaps.Start.P90 / 1000, "0.00")}; {Number(gaps.Hop.P50 / 1000, "0.00")} / {Number(gaps.Hop.P90 / 1000, "0.00")}" : "–",
            w.PeakModelCalls.ToString(CultureInfo.InvariantCulture), w.WaitedTurns?.ToString(CultureInfo.InvariantCulture) ?? "–",
            w.PoolMax is { } pool ? $"{w.Peaks.Connections} / {w.Peaks.ConnectionsInUse} / {pool}" : "–", Number(w.Peaks.RssMiB, "0"), w.Cpu,
        ];

        var section = new ReportSection(
            "Paced model: many runs waiting on a real model",
            $"An OpenAI-compatible fake model in the bench process (tests/Qlaw.FakeModel) answers every call as a real model streams: the first token after " +
            $"{pace.FirstTokenMs} ms, then {pace.Tokens} tokens {pace.TokenMs} ms apart ({Number(turnSeconds, "0.00")} s a call), then a call of the first `handoff_to_…` tool " +
            "the request offers, else `complete`. Qlaw.Server (profile `paced-model`: the `openai` endpoint at the fake, `Durable:MaxConcurrentActivities` and " +
            $"`MaxConcurrentOrchestrations` 1000) runs `{PacedQlaw.Workflow}`, planner → coder → judge: 3 model calls, {Number(3 * turnSeconds, "0.0")} s of model time a run. " +
            $"One run alone (the median of {scale.PacedAloneRuns}, after one untimed run), then N runs started together (at most {PacedQlaw.StartConcurrency} POSTs at once), " +
            $"each wave timed from its first POST to its last run's `completed_at` (*all POSTed*: to the last POST's answer), for {scale.PacedWaveLimit.TotalMinutes:0} min at most (a wave that does not end in time " +
            "is reported as far as it got, marked >, and the larger ones are skipped). Sampled every 100 ms of a wave: the model calls in flight (the fake's count), the " +
            "server's PostgreSQL connections (client backends of its `application_name`, so never the bench's own: all, and those not idle) beside its pool's maximum " +
            "(its connection string's, else the server's default), and its resident memory. A turn's duration is its step row's, from its start to its completion " +
            $"(the model's own {Number(turnSeconds, "0.00")} s and the turn's writes). *Turns waited* counts the runs' `model.waiting` audit entries. CPU in % " +
            "of one core over each wave; the bench process holds the fake model and the clients. " +
            $"The LangGraph.js peer runs bench/peer/paced.mjs, 3 nodes in a chain each streaming one completion from the same fake (`@langchain/openai` `ChatOpenAI`, " +
            $"streaming, no retries), on {peer.Workers} workers (`node server.mjs <port> {peer.Workers}`; the dev server's default is 10), as background runs timed " +
            "as *LangGraph.js peer* times them (threads made first, until the last run's `updated_at`). " +
            "The bare engine is the Durable Task engine Qlaw.Server runs on, in the bench process on the same Azurite and hub settings (a fresh hub), with " +
            $"a chain of 3 activities that each wait {Number(turnSeconds, "0.00")} s, as a turn waits on the model: the floor under Qlaw's makespans on this stack " +
            "(its *server* CPU is the bench process's: the engine, the fake model and the clients).")
            .Table(
                ["", "N", "completed", "failed", "all POSTed s", "makespan s", "× one alone", "turn p50 / p90 s", "to first turn; between turns p50 / p90 s", "peak model calls in flight", "turns waited for a slot", "PG connections peak (all / in use / pool max)", "server peak RSS MiB", "CPU"],
                [
                    Alone("Qlaw", qlaw.AloneSeconds),
                    .. qlaw.Waves.Select(w => Row("Qlaw", w, qlaw.AloneSeconds)),
                    Alone("bare engine", engine.AloneSeconds),
                    .. engine.Waves.Select(w => Row("bare engine", w, engine.AloneSeconds)),
                    .. peer.Waves.Count == 0 ? [] : new[] { Alone("LangGraph.js", peer.AloneSeconds) },
                    .. peer.Waves.Select(w => Row("LangGraph.js", w, peer.AloneSeconds)),
                ]);
        foreach (var wave in qlaw.Waves.Where(w => w.NotEnded is not null))
        {
            section.Note($"Qlaw's {wave.Runs} runs at the limit: {wave.NotEnded}.");
        }

        return section;
    }
}
