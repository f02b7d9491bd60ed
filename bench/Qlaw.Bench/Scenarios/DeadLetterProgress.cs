using Qlaw.Bench.Measure;

namespace Qlaw.Bench.Scenarios;

/// <summary>The milestones the dead-letter scenario reached, in order, each with its wall-clock time and a detail.</summary>
internal sealed class DeadLetterProgress(long startedAt, Action<string> log)
{
    private readonly List<(string Name, DateTime At)> _reached = [];

    public DateTime StartedAt { get; } = BenchClock.ToUtc(startedAt);

    public int Refused { get; set; }

    /// <summary>Orchestrations waiting when the last run was dead-lettered (null: not reached).</summary>
    public int? WaitingAtLastDeadLetter { get; set; }

    /// <summary>Orchestrations waiting at the last run's abandon time (null: not reached).</summary>
    public int? WaitingAtAbandonTime { get; set; }

    /// <summary>When <paramref name="name"/> was reached, or null.</summary>
    public DateTime? At(string name) => _reached.FirstOrDefault(r => r.Name == name) is { Name: not null } r ? r.At : null;

    /// <summary>Marks <paramref name="name"/> reached now, and logs it.</summary>
    public void Reached(string name, string detail = "")
    {
        var at = BenchClock.ToUtc(BenchClock.Now);
        _reached.Add((name, at));
        log($"Dead letters: {name} at {(at - StartedAt).TotalSeconds:0} s{(detail.Length > 0 ? $" ({detail})" : "")}");
    }

    public Task UntilAsync(string name, Func<bool> condition, CancellationToken cancellationToken, int everyMs = 1000) =>
        UntilAsync(name, () => Task.FromResult(condition()), cancellationToken, everyMs);

    /// <summary>Checks <paramref name="condition"/> every <paramref name="everyMs"/> until it holds, then marks <paramref name="name"/> reached.</summary>
    public async Task UntilAsync(string name, Func<Task<bool>> condition, CancellationToken cancellationToken, int everyMs = 1000)
    {
        while (!await condition())
        {
            await Task.Delay(everyMs, cancellationToken);
        }

        Reached(name);
    }
}
