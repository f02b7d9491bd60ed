using System.ClientModel;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Qlaw.Contracts.Runs;
using Qlaw.Core.Routing;

namespace Qlaw.Core.Agents;

/// <summary>
/// Runs a turn on Microsoft Agent Framework: builds the agent, replays the conversation so far (author names kept),
/// streams its updates into the turn's log through its endpoint's gate (<see cref="ModelCall"/>), and reads its routing
/// tool call (<see cref="TurnAnswer"/>).
/// </summary>
public sealed class AgentFrameworkTurnRunner(ChatClientProvider clients, AgentFactory agents, TimeProvider clock) : IAgentTurnRunner
{
    // Streams the agent's answer into the log; an answer cut by the output token limit is continued once. Provider
    // failures become transient or permanent turn failures whose messages are ours (the provider's exception stays
    // inside, for the log). Each model call is traced by the chat client's telemetry (QlawTelemetry.WithTelemetry).
    public async Task<AgentTurnOutput> RunAsync(AgentTurnContext context, ITurnLog log, CancellationToken cancellationToken)
    {
        var model = ChatClientProvider.Resolve(context.Workflow, context.Agent);
        var client = clients.For(model, context);
        var agent = agents.Create(context.Workflow, context.Agent, model, client);
        var answer = new TurnAnswer(RoutingTools.For(context.Agent).Select(t => t.Name).ToHashSet(StringComparer.Ordinal));
        var messages = ToMessages(context);
        await StreamAsync(agent, messages, client.Endpoint, answer, log, cancellationToken);
        var truncated = answer.Truncated;
        if (truncated)
        {
            // The cut answer's calls were cut with it. The model is asked to go on from where it stopped, once.
            answer.DropCalls();
            answer.Truncated = false;
            messages.Add(new ChatMessage(ChatRole.Assistant, log.Text) { AuthorName = context.Agent.Name });
            messages.Add(new ChatMessage(ChatRole.User, ContinueCutAnswer));
            await StreamAsync(agent, messages, client.Endpoint, answer, log, cancellationToken);
            if (answer.Truncated)
            {
                throw new PermanentAgentException(
                    "The model's answer was cut by its output token limit (finish_reason length), and again after it was asked to go on; raise model.max_output_tokens or shorten the task.",
                    code: RunErrorCodes.AnswerTruncated);
            }
        }

        var (decision, prompt) = answer.Decide();
        return new AgentTurnOutput(log.Text, decision, prompt, answer.InputTokens, answer.OutputTokens, truncated);
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
