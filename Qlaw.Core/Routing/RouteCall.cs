namespace Qlaw.Core.Routing;

/// <summary>The names of the routing tools an agent calls, and their meaning.</summary>
public static class RouteCall
{
    public const string HandoffPrefix = "handoff_to_";
    public const string ConsultPrefix = "consult_";
    public const string ReturnToPrevious = "return_to_previous";
    public const string RequestInput = "request_input";
    public const string Complete = "complete";

    /// <summary>The tool call that stands for <paramref name="decision"/> (none for <see cref="RouteAction.EndTurn"/>).</summary>
    public static string Name(RouteDecision decision) => decision.Action switch
    {
        RouteAction.Handoff => HandoffPrefix + decision.Target,
        RouteAction.Consult => ConsultPrefix + decision.Target,
        RouteAction.ReturnToPrevious => ReturnToPrevious,
        RouteAction.RequestInput => RequestInput,
        RouteAction.Complete => Complete,
        _ => decision.Target ?? "",
    };

    /// <summary>The decision a tool call stands for: <see cref="RouteAction.EndTurn"/> for none, <see cref="RouteAction.Invalid"/> for an unknown name.</summary>
    public static RouteDecision Parse(string? call, string? reason = null) => call switch
    {
        null or "" => new(RouteAction.EndTurn, null, reason),
        ReturnToPrevious => new(RouteAction.ReturnToPrevious, null, reason),
        RequestInput => new(RouteAction.RequestInput, null, reason),
        Complete => new(RouteAction.Complete, null, reason),
        _ when call.StartsWith(HandoffPrefix, StringComparison.Ordinal) => new(RouteAction.Handoff, call[HandoffPrefix.Length..], reason),
        _ when call.StartsWith(ConsultPrefix, StringComparison.Ordinal) => new(RouteAction.Consult, call[ConsultPrefix.Length..], reason),
        _ => new(RouteAction.Invalid, call, reason),
    };
}
