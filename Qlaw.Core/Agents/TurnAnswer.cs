using Microsoft.Extensions.AI;
using Qlaw.Core.Routing;

namespace Qlaw.Core.Agents;

/// <summary>
/// What a turn's model calls said besides text: its routing calls, the tokens it used and whether its answer was cut
/// by the output token limit. One routing decision a turn: the first call of an offered tool whose arguments parse;
/// any other call is recorded as ignored (and the model is told, in the conversation, through the calls' results).
/// </summary>
public sealed class TurnAnswer(IReadOnlySet<string> offered)
{
    private readonly List<FunctionCallContent> _calls = [];
    private (RouteDecision Decision, string? Prompt, FunctionCallContent Call)? _followed;

    public long? InputTokens { get; private set; }

    public long? OutputTokens { get; private set; }

    /// <summary>The latest call ended with <c>finish_reason: length</c>.</summary>
    public bool Truncated { get; set; }

    /// <summary>Reads one streamed update's calls, usage and finish reason.</summary>
    public void Read(IEnumerable<AIContent> contents, ChatFinishReason? finish)
    {
        foreach (var content in contents)
        {
            switch (content)
            {
                case FunctionCallContent call:
                    _calls.Add(call);
                    if (_followed is null && offered.Contains(call.Name) && call.Exception is null)
                    {
                        var (decision, prompt) = RoutingTools.Read(call);
                        _followed = (decision, prompt, call);
                    }

                    break;
                case UsageContent usage:
                    InputTokens = (InputTokens ?? 0) + usage.Details.InputTokenCount;
                    OutputTokens = (OutputTokens ?? 0) + usage.Details.OutputTokenCount;
                    break;
            }
        }

        if (finish == ChatFinishReason.Length)
        {
            Truncated = true;
        }
    }

    /// <summary>A routing call was made (one the agent was offered, whose arguments parse).</summary>
    public bool Routed => _followed is not null;

    /// <summary>Takes the calls of the agent's own tools out of the answer (they run; they do not route), in order.</summary>
    public List<FunctionCallContent> TakeToolCalls(Func<string, bool> isTool)
    {
        var taken = _calls.Where(c => isTool(c.Name)).ToList();
        _calls.RemoveAll(c => isTool(c.Name));
        return taken;
    }

    /// <summary>Forgets the calls of an answer that was cut off: their arguments were cut with it.</summary>
    public void DropCalls()
    {
        _calls.Clear();
        _followed = null;
    }

    /// <summary>
    /// The decision: the followed call, else an invalid one naming the first call (a tool that was not offered, or
    /// arguments that do not parse), else none (the default edge). The others are listed as ignored.
    /// </summary>
    public (RouteDecision Decision, string? Prompt) Decide()
    {
        var chosen = _followed?.Call ?? _calls.FirstOrDefault();
        var ignored = _calls.Where(c => !ReferenceEquals(c, chosen)).Select(c => new ToolCallRef(c.CallId, c.Name)).ToList();
        var (decision, prompt) = _followed is { } followed
            ? (followed.Decision, followed.Prompt)
            : (chosen is null ? new RouteDecision(RouteAction.EndTurn) : new RouteDecision(RouteAction.Invalid, chosen.Name), null);
        return (decision with { CallId = chosen?.CallId, Ignored = ignored.Count > 0 ? ignored : null }, prompt);
    }
}
