using System.ComponentModel.DataAnnotations;

namespace Qlaw.Core.Responses;

/// <summary>Options of the QLAW CLI's surface, <c>/v1/responses</c> (section <c>Responses</c>).</summary>
public sealed class ResponsesOptions
{
    /// <summary>
    /// Each agent turn's text on a <c>/v1/responses</c> stream begins with a line naming the agent (and the attempt of a
    /// retry), since the CLI shows only text. <c>GET /v1/runs/{id}/responses</c> never has it.
    /// </summary>
    public bool AgentHeadings { get; set; } = true;

    /// <summary>
    /// A <c>/v1/responses</c> call with neither <c>conversation</c> nor <c>previous_response_id</c> answers the same
    /// client's latest run of the workflow that awaits input if it was started through <c>/v1/responses</c> this many
    /// minutes ago at most; 0 turns this off (every such call starts a run).
    /// </summary>
    [Range(0, 1440)]
    public int AnswerWindowMinutes { get; set; } = 30;
}
