using System.ClientModel;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaw.Contracts.Runs;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Limits;
using Qlaw.Core.Routing;
using Qlaw.Core.Tools;

namespace Qlaw.Core.Agents;

/// <summary>
/// Runs a turn on Microsoft Agent Framework: builds the agent, replays the conversation so far (author names kept),
/// streams its updates into the turn's log through its endpoint's gate (<see cref="ModelCall"/>), and reads its routing
/// tool call (<see cref="TurnAnswer"/>).
/// </summary>
public sealed class AgentFrameworkTurnRunner(
    ChatClientProvider clients, AgentTools tools, ILoggerFactory loggerFactory, IOptionsMonitor<LimitsOptions> limits, TimeProvider clock) : IAgentTurnRunner
{
    // Streams the agent's answer into the log; an answer cut by the output token limit is continued once. Provider
    // failures become transient or permanent turn failures whose messages are ours (the provider's exception stays
    // inside, for the log). Each model call is traced by the chat client's telemetry (QlawTelemetry.WithTelemetry).
    // Calls of the agent's MCP tools run between model calls (TurnTools), until the model answers without one, makes a
    // routing call, or a call waits for a person: then the turn ends asking them (request_input).
    public async Task<AgentTurnOutput> RunAsync(AgentTurnContext context, ITurnLog log, CancellationToken cancellationToken)
    {
        var model = ChatClientProvider.Resolve(context.Workflow, context.Agent);
        var client = clients.For(model, context);
        var turnTools = context.Agent.Tools is { Count: > 0 } ? await tools.ForTurnAsync(context.Workflow, context.Agent, cancellationToken) : TurnTools.None;
        var agent = Create(context.Workflow, context.Agent, model, client, turnTools.Declarations);
        var answer = new TurnAnswer(RoutingTools.For(context.Agent).Select(t => t.Name).ToHashSet(StringComparer.Ordinal));
        var messages = ToMessages(context);
        var question = turnTools == TurnTools.None ? null : await ReplayAsync(turnTools, context.RecordedToolCalls ?? [], messages, log, cancellationToken);
        var truncated = false;
        while (question is null)
        {
            var before = log.Length;
            truncated |= await AnswerAsync(agent, messages, client.Endpoint, answer, context, log, cancellationToken);
            var calls = answer.TakeToolCalls(turnTools.Offers);
            if (calls.Count == 0)
            {
                break;
            }

            var round = await turnTools.RunAsync(calls, context.Step, log, cancellationToken);
            messages.Add(new ChatMessage(ChatRole.Assistant, [new TextContent(log.Text[before..]), .. round.Calls]) { AuthorName = context.Agent.Name });
            messages.Add(new ChatMessage(ChatRole.Tool, [.. round.Results]));
            question = round.Question;

            // A routing call made beside tool calls ends the turn once they ran, as the model asked.
            if (answer.Routed)
            {
                break;
            }
        }

        var (decision, prompt) = question is null ? answer.Decide() : (new RouteDecision(RouteAction.RequestInput, Reason: "a tool call waits for a person"), question);
        return new AgentTurnOutput(log.Text, decision, prompt, answer.InputTokens, answer.OutputTokens, truncated);
    }

    // A ChatClientAgent with a fixed id (random ids break checkpoint resume), the agent's instructions and model options,
    // its routing tools and the MCP tools it was granted. The chat client is used as is: routing tool calls are not
    // invoked but returned, and end the turn. A call is bounded by the server's Limits:DefaultMaxOutputTokens when the
    // workflow sets no max_output_tokens. The request says parallel_tool_calls: false unless the endpoint allows them,
    // and carries what the client is given besides the conversation (ModelClient.Properties).
    private ChatClientAgent Create(WorkflowDefinition workflow, AgentDefinition agent, ModelOptions model, ModelClient client, IEnumerable<AITool> turnTools) =>
        new(client.Client, new ChatClientAgentOptions
        {
            Id = $"{workflow.Name}.{agent.Name}",
            Name = agent.Name,
            Description = agent.Description,
            UseProvidedChatClientAsIs = true,
            ChatOptions = new ChatOptions
            {
                Instructions = agent.Instructions ?? RoleInstructions.For(agent.Role!.Value),
                Tools = [.. RoutingTools.For(agent), .. turnTools],
                ToolMode = ChatToolMode.Auto,
                ModelId = model.Model,
                Temperature = (float?)model.Temperature,
                MaxOutputTokens = model.MaxOutputTokens ?? Math.Min(limits.CurrentValue.DefaultMaxOutputTokens, limits.CurrentValue.MaxOutputTokens),
                AllowMultipleToolCalls = (client.Endpoint?.Calls.DisableParallelToolCalls ?? true) ? false : null,
                AdditionalProperties = client.Properties,
            },
        }, loggerFactory);

    // The calls recorded before this turn began, replayed into the conversation; the question for a person, if one
    // still waits.
    private static async Task<string?> ReplayAsync(
        TurnTools turnTools, IReadOnlyList<ToolCallRecord> recorded, List<ChatMessage> messages, ITurnLog log, CancellationToken cancellationToken)
    {
        if (await turnTools.ReplayAsync(recorded, log, cancellationToken) is not { } replay)
        {
            return null;
        }

        messages.Add(new ChatMessage(ChatRole.Assistant, [.. replay.Calls]));
        if (replay.Results.Count > 0)
        {
            messages.Add(new ChatMessage(ChatRole.Tool, [.. replay.Results]));
        }

        return replay.Question;
    }

    // One model answer, continued once when the output token limit cut it; whether it was cut.
    private async Task<bool> AnswerAsync(
        ChatClientAgent agent, List<ChatMessage> messages, ModelEndpoint? endpoint, TurnAnswer answer, AgentTurnContext context, ITurnLog log, CancellationToken cancellationToken)
    {
        var before = log.Length;
        await StreamAsync(agent, messages, endpoint, answer, log, cancellationToken);
        if (!answer.Truncated)
        {
            return false;
        }

        // The cut answer's calls were cut with it. The model is asked to go on from where it stopped, once.
        answer.DropCalls();
        answer.Truncated = false;
        messages.Add(new ChatMessage(ChatRole.Assistant, log.Text[before..]) { AuthorName = context.Agent.Name });
        messages.Add(new ChatMessage(ChatRole.User, ContinueCutAnswer));
        await StreamAsync(agent, messages, endpoint, answer, log, cancellationToken);
        if (answer.Truncated)
        {
            throw new PermanentAgentException(
                "The model's answer was cut by its output token limit (finish_reason length), and again after it was asked to go on; raise model.max_output_tokens or shorten the task.",
                code: RunErrorCodes.AnswerTruncated);
        }

        return true;
    }

    /// <summary>What a model whose answer was cut off is asked, once.</summary>
    public const string ContinueCutAnswer =
        "Your answer was cut off by the output token limit. Continue exactly where it stopped, without repeating anything, and make your routing call at the end.";

    private async Task StreamAsync(ChatClientAgent agent, List<ChatMessage> messages, ModelEndpoint? endpoint, TurnAnswer answer, ITurnLog log, CancellationToken cancellationToken)
    {
        var streamed = false;
        async Task Read(AgentResponseUpdate update)
        {
            streamed = true;
            await log.AppendAsync(update.Text, cancellationToken);
            answer.Read(update.Contents, update.FinishReason);
        }

        IAsyncEnumerable<AgentResponseUpdate> Call(CancellationToken token) => agent.RunStreamingAsync(messages, cancellationToken: token);
        try
        {
            if (endpoint is null)
            {
                await foreach (var update in Call(cancellationToken))
                {
                    await Read(update);
                }
            }
            else
            {
                await new ModelCall(endpoint, log, clock).RunAsync(Call, Read, cancellationToken);
            }
        }
        catch (ClientResultException ex) when (ex.Status is 0)
        {
            throw new TransientAgentException(streamed || Cut(ex) ? CutStream : "The model provider could not be reached.", ex);
        }
        catch (ClientResultException ex) when (ex.Status is 408 or 429 or >= 500)
        {
            throw new TransientAgentException($"The model provider answered {ex.Status}.", ex);
        }
        catch (ClientResultException ex)
        {
            throw new PermanentAgentException($"The model provider rejected the request ({ex.Status}): check the model name and the endpoint's key.", ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutException or IOException
            || (ex is OperationCanceledException and not AttemptStoppedException && !cancellationToken.IsCancellationRequested))
        {
            throw new TransientAgentException(streamed || Cut(ex) ? CutStream : "The model provider did not answer in time.", ex);
        }
    }

    private const string CutStream = "The model's connection was closed before its answer ended (a cut stream).";

    // The provider's connection ended mid-answer (an HttpIOException somewhere inside), as against one never made.
    private static bool Cut(Exception ex) => ex is IOException || (ex.InnerException is { } inner && Cut(inner));

    // The conversation so far. A turn whose model made several routing calls shows them with their results: the one
    // followed, and the others ignored, so that the model learns that one routing call a turn is followed.
    private static List<ChatMessage> ToMessages(AgentTurnContext context)
    {
        var messages = new List<ChatMessage>();
        foreach (var entry in context.History)
        {
            if (entry.Role == "user")
            {
                messages.Add(new ChatMessage(ChatRole.User, entry.Text));
                continue;
            }

            var said = new ChatMessage(ChatRole.Assistant, entry.Text) { AuthorName = entry.AuthorName };
            messages.Add(said);
            if (entry.Decision is not { Ignored: { Count: > 0 } ignored } decision)
            {
                continue;
            }

            var results = new List<AIContent>();
            if (decision.CallId is { } followed && decision.Action != RouteAction.Invalid)
            {
                said.Contents.Add(new FunctionCallContent(followed, RouteCall.Name(decision)));
                results.Add(new FunctionResultContent(followed, "Followed."));
            }

            foreach (var call in ignored)
            {
                said.Contents.Add(new FunctionCallContent(call.CallId, call.Name));
                results.Add(new FunctionResultContent(call.CallId, IgnoredCallResult));
            }

            messages.Add(new ChatMessage(ChatRole.Tool, results));
        }

        return messages;
    }

    /// <summary>What a model is told of a routing call that was not followed.</summary>
    public const string IgnoredCallResult = "Not followed: one routing call a turn is followed, and another call of this turn was.";
}
