using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Qlaw.Contracts.Workflows;
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

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in GetStreamingResponseAsync(messages, options, cancellationToken))
        {
            updates.Add(update);
        }

        return updates.ToChatResponse();
    }

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

    /// <summary>The additional properties that carry this play to <see cref="ScriptedChatClient"/>.</summary>
    public AdditionalPropertiesDictionary AsProperties() => new() { [Key] = this };

    internal static ScriptedPlay Of(ChatOptions? options) =>
        options?.AdditionalProperties?.TryGetValue(Key, out ScriptedPlay? play) == true && play is not null
            ? play
            : throw new ArgumentException("A request to the scripted model carries its ScriptedPlay.", nameof(options));
}
