using Qlaw.Contracts.Events;
using Qlaw.Contracts.Responses;
using Qlaw.Core.RunStore;

namespace Qlaw.Core.Responses;

/// <summary>How a run looks as an OpenAI Responses <c>response</c>: its object, and the ids of its output items.</summary>
public static class RunResponses
{
    /// <summary>The output item of one turn: one per attempt of each step.</summary>
    public static string ItemId(Guid runId, int step, int attempt) => $"msg_{runId:N}_{step}_{attempt}";

    /// <summary>
    /// The line that begins a turn's text in a response when <see cref="ResponsesOptions.AgentHeadings"/> is on: the
    /// agent's name (and the attempt of a retry), after a blank line unless it is the first text of the response.
    /// </summary>
    public static string Heading(string agent, int attempt, bool first) =>
        $"{(first ? "" : "\n\n")}**{agent}**{(attempt > 1 ? $" (attempt {attempt})" : "")}\n";

    /// <summary>The response object of <paramref name="target"/>'s run with these <paramref name="output"/> items.</summary>
    public static ResponseObject Describe(
        ResponseTarget target, string model, string status, IReadOnlyList<OutputItem> output, ResponseUsage? usage, ResponseErrorBody? error = null) =>
        new(RunEvents.ResponseId(target.RunId), target.CreatedAt.ToUnixTimeSeconds(), status, model, output, usage, error,
            null, target.Background, target.RunId.ToString(), target.Workflow);

    /// <summary>Reads a response id (<c>resp_…</c>) or a bare run id.</summary>
    public static bool TryParseResponseId(string id, out Guid runId) =>
        Guid.TryParse(id.StartsWith("resp_", StringComparison.Ordinal) ? id[5..] : id, out runId);
}
