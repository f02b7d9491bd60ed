using Qlaw.Contracts;
using Qlaw.Contracts.Runs;
using Qlaw.Data.Runs;

namespace Qlaw.Core.Runs;

/// <summary>Outcome of a run command (start, continue, handoff, cancel), mapped to HTTP by each host.</summary>
public abstract record RunCommandResult
{
    private RunCommandResult()
    {
    }

    public sealed record Accepted(RunAccepted Run) : RunCommandResult;

    public sealed record HandoffRecorded(HandoffAccepted Handoff) : RunCommandResult;

    public sealed record NotFound(string What) : RunCommandResult;

    public sealed record Invalid(IDictionary<string, string[]> Errors) : RunCommandResult;

    /// <summary>The run's state does not allow the command.</summary>
    public sealed record Conflict(RunStatus Status, string Detail) : RunCommandResult;

    /// <summary>Too many runs are active (on the server, or of this client); try again after <paramref name="RetryAfter"/>.</summary>
    public sealed record Busy(string Title, TimeSpan RetryAfter) : RunCommandResult;

    /// <summary>An Idempotency-Key came back with another request body.</summary>
    public sealed record KeyReused(string Detail) : RunCommandResult
    {
        public static KeyReused Of(string key) => new($"The Idempotency-Key '{key}' was used with a different request body.");
    }
}

/// <summary>Links of a run, shared by every response that names one.</summary>
public static class RunLinksFactory
{
    public static RunLinks For(Guid runId) =>
        new($"/v1/runs/{runId}/status", $"/v1/runs/{runId}/responses", $"/v1/runs/{runId}/audit");

    /// <summary>The answer naming an accepted run (and, for a fork, where it was forked from).</summary>
    public static RunCommandResult.Accepted Accepted(RunEntity run) =>
        new(new RunAccepted(run.Id, run.WorkflowId, run.Status, For(run.Id), run.ForkedFrom, run.FromStep));
}
