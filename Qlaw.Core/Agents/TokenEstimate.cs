namespace Qlaw.Core.Agents;

/// <summary>
/// Tokens of a model call whose provider did not report them (no usage, or a call that did not end): about four
/// characters a token, rounded up, for what the model was sent and what it streamed. Used so that every call counts
/// against a run's budget, not only those whose usage arrived.
/// </summary>
public static class TokenEstimate
{
    /// <summary>What the turn sends: its instructions and the conversation so far.</summary>
    public static long Input(AgentTurnContext context) =>
        Output((context.Agent.Instructions?.Length ?? 0) + context.History.Sum(e => e.Text.Length));

    /// <summary>What the model streamed, <paramref name="chars"/> characters.</summary>
    public static long Output(int chars) => (chars + 3L) / 4;

    /// <summary>A call that did not complete: all it was sent and what it streamed before it ended.</summary>
    public static long Spent(AgentTurnContext context, int streamedChars) => Input(context) + Output(streamedChars);
}
