using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Qlaw.Contracts;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Routing;
using Qlaw.Core.Tools;

namespace Qlaw.Core.Agents;

/// <summary>
/// The offline, deterministic model: an <see cref="IChatClient"/> that plays the scripted turn its request carries
/// (<see cref="ScriptedPlay"/> in the options' additional properties, the way a provider takes its own parameters) —
/// streams its text word by word (optionally paced), then makes its routing tool call. Failures are thrown before any
/// text. One client serves every turn, so its telemetry client lives as long as the process.
/// </summary>
public sealed partial class ScriptedChatClient(IOptionsMonitor<ScriptedModelOptions> pacing) : IChatClient
{
    // What its telemetry names: provider scripted, model default unless the workflow names one.
    private static readonly ChatClientMetadata Metadata = new("scripted", defaultModelId: "default");

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var play = ScriptedPlay.Of(options);
        var (turn, attempt) = (play.Turn, play.Attempt);
        var pace = pacing.CurrentValue;
        if (pace.TurnDelayMs > 0)
        {
            await Task.Delay(pace.TurnDelayMs, cancellationToken);
        }

        if (turn.FailPermanent == true)
        {
            throw new PermanentAgentException("The scripted model failed permanently.");
        }

        if (attempt <= (turn.FailTransient ?? 0))
        {
            throw new TransientAgentException($"The scripted model failed transiently (attempt {attempt}).");
        }

        var responseId = $"resp_{Guid.NewGuid():N}";
        if (turn.ToolCalls is { Count: > 0 } toolCalls && messages.LastOrDefault()?.Role != ChatRole.Tool)
        {
            // The turn's tool calls first; given their results, it speaks and routes.
            var calls = toolCalls.Select((call, i) => (AIContent)new FunctionCallContent($"call_{responseId}_{i}", Function(call.Tool), Arguments(call, play.RunId))).ToList();
            yield return new ChatResponseUpdate(ChatRole.Assistant, calls) { ResponseId = responseId, FinishReason = ChatFinishReason.ToolCalls };
            yield break;
        }

        foreach (Match token in Tokens().Matches(turn.Say ?? ""))
        {
            if (pace.TokenDelayMs > 0)
            {
                await Task.Delay(pace.TokenDelayMs, cancellationToken);
            }

            yield return new ChatResponseUpdate(ChatRole.Assistant, token.Value) { ResponseId = responseId };
        }

        if (turn.Call is { } call)
        {
            var arguments = new Dictionary<string, object?> { ["reason"] = $"scripted: {call}" };
            if (turn.Prompt is { } prompt)
            {
                arguments["prompt"] = prompt;
            }

            yield return new ChatResponseUpdate(ChatRole.Assistant, [new FunctionCallContent($"call_{responseId}", call, arguments)])
            {
                ResponseId = responseId,
                FinishReason = ChatFinishReason.ToolCalls,
            };
        }
        else
        {
            yield return new ChatResponseUpdate { ResponseId = responseId, Role = ChatRole.Assistant, FinishReason = ChatFinishReason.Stop };
        }
    }

    private static string Function(string tool) => tool.IndexOf('/') is var slash and > 0 ? AgentTools.FunctionName(tool[..slash], tool[(slash + 1)..]) : tool;

    // The scripted arguments, with {run_id} in their text replaced by the run's id.
    private static Dictionary<string, object?> Arguments(ScriptedToolCall call, Guid runId)
    {
        var json = call.Arguments?.GetRawText().Replace("{run_id}", runId.ToString("N"), StringComparison.Ordinal) ?? "{}";
        return JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)?.ToDictionary(p => p.Key, p => (object?)p.Value) ?? [];
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType == typeof(ChatClientMetadata) ? Metadata : serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }

    // A word and the whitespace after it: the token unit of the scripted stream.
    [GeneratedRegex(@"\S+\s*|\s+")]
    private static partial Regex Tokens();
}

/// <summary>The scripted turn a request plays, and its attempt (a transient failure fails the first attempts).</summary>
public sealed record ScriptedPlay(ScriptedTurn Turn, int Attempt, Guid RunId)
{
    private const string Key = "qlaw.scripted_play";

    /// <summary>
    /// The turn the scripted model plays: the agent's script (its n-th turn plays <c>script[n]</c>, the last repeating),
    /// else its role's default — Planner → Coder, Coder consults Reviewer, Reviewer sends the first review back and hands
    /// to Judge after, Judge completes.
    /// </summary>
    public static ScriptedPlay For(AgentTurnContext context) => new(TurnOf(context), context.Attempt, context.RunId);

    /// <summary>The additional properties that carry this play to <see cref="ScriptedChatClient"/>.</summary>
    public AdditionalPropertiesDictionary AsProperties() => new() { [Key] = this };

    internal static ScriptedPlay Of(ChatOptions? options) =>
        options?.AdditionalProperties?.TryGetValue(Key, out ScriptedPlay? play) == true && play is not null
            ? play
            : throw new ArgumentException("A request to the scripted model carries its ScriptedPlay.", nameof(options));

    private static ScriptedTurn TurnOf(AgentTurnContext context)
    {
        if (context.Agent.Script is { Count: > 0 } script)
        {
            return script[Math.Min(context.AgentTurnNumber, script.Count - 1)];
        }

        var task = context.History.FirstOrDefault(e => e.Role == "user")?.Text ?? "the task";
        // The routing call to the workflow's agent of a role (none when it has no such agent).
        string? To(string prefix, AgentRole role) =>
            context.Workflow.Agents.FirstOrDefault(a => a.Role == role)?.Name is { } agent ? prefix + agent : null;
        var first = context.AgentTurnNumber == 0;
        return context.Agent.Role switch
        {
            AgentRole.Planner => new() { Say = $"Plan for \"{task}\":\n1. Understand the task.\n2. Write the code.\n3. Review it.\n", Call = To(RouteCall.HandoffPrefix, AgentRole.Coder) },
            AgentRole.Coder when first => new() { Say = $"// Code for \"{task}\"\nstatic int Solve() => 42;\n", Call = To(RouteCall.ConsultPrefix, AgentRole.Reviewer) },
            AgentRole.Coder => new() { Say = "// Revised after review: input is validated.\nstatic int Solve(int x) => x < 0 ? 0 : 42;\n", Call = To(RouteCall.HandoffPrefix, AgentRole.Judge) },
            AgentRole.Reviewer when first => new() { Say = "Review: validate the input before use. Sending it back.", Call = RouteCall.ReturnToPrevious },
            AgentRole.Reviewer => new() { Say = "Review: looks good now.", Call = To(RouteCall.HandoffPrefix, AgentRole.Judge) },
            _ => new() { Say = "Verdict: approved.", Call = RouteCall.Complete },
        };
    }
}

/// <summary>Options of the offline model (section <c>Models:Scripted</c>); they apply on reload.</summary>
public sealed class ScriptedModelOptions
{
    /// <summary>Pause at the start of every turn, to make runs observable; 0 runs as fast as possible.</summary>
    [System.ComponentModel.DataAnnotations.Range(0, 600_000)]
    public int TurnDelayMs { get; set; }

    /// <summary>Pause before each streamed token; 0 streams as fast as possible.</summary>
    [System.ComponentModel.DataAnnotations.Range(0, 60_000)]
    public int TokenDelayMs { get; set; }
}
