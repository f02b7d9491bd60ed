using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;
using Qlaw.Contracts.Workflows;

namespace Qlaw.Core.Agents;

/// <summary>
/// The offline, deterministic model: an <see cref="IChatClient"/> that plays one scripted turn — streams its text
/// word by word (optionally paced), then makes its routing tool call. Failures are thrown before any text.
/// </summary>
public sealed partial class ScriptedChatClient(ScriptedTurn turn, int attempt, ScriptedModelOptions pacing) : IChatClient
{
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
        if (pacing.TurnDelayMs > 0)
        {
            await Task.Delay(pacing.TurnDelayMs, cancellationToken);
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
        foreach (Match token in Tokens().Matches(turn.Say ?? ""))
        {
            if (pacing.TokenDelayMs > 0)
            {
                await Task.Delay(pacing.TokenDelayMs, cancellationToken);
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

    public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }

    // A word and the whitespace after it: the token unit of the scripted stream.
    [GeneratedRegex(@"\S+\s*|\s+")]
    private static partial Regex Tokens();
}
