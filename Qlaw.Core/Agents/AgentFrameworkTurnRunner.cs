using System.ClientModel;
using System.Diagnostics;
using Microsoft.Extensions.AI;
using Qlaw.Contracts;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Routing;
using Qlaw.Core.Telemetry;

namespace Qlaw.Core.Agents;

/// <summary>
/// Runs a turn on Microsoft Agent Framework: builds the agent, replays the conversation so far (author names kept),
/// streams its updates into the turn's text sink, and reads its routing tool call.
/// </summary>
public sealed class AgentFrameworkTurnRunner(ChatClientProvider clients, AgentFactory agents) : IAgentTurnRunner
{
    public async Task<AgentTurnOutput> RunAsync(AgentTurnContext context, ITurnTextSink text, CancellationToken cancellationToken)
    {
        var model = ChatClientProvider.Resolve(context.Workflow, context.Agent);
        var (provider, modelName) = (QlawJson.EnumName(model.Provider ?? ModelProvider.Scripted), model.Model ?? "default");
        using var span = QlawTelemetry.Source.StartActivity(QlawTelemetry.ModelCallSpan, ActivityKind.Client)?
            .SetTag(QlawTelemetry.RunIdTag, context.RunId.ToString())
            .SetTag(QlawTelemetry.StepTag, context.Step)
            .SetTag(QlawTelemetry.AttemptTag, context.Attempt)
            .SetTag(QlawTelemetry.AgentTag, context.Agent.Name)
            .SetTag(QlawTelemetry.ProviderTag, provider)
            .SetTag(QlawTelemetry.ModelTag, modelName);
        var outcome = "error";
        try
        {
            var output = await CallAsync(context, model, text, cancellationToken);
            span?.SetTag("gen_ai.usage.input_tokens", output.InputTokens).SetTag("gen_ai.usage.output_tokens", output.OutputTokens);
            outcome = "ok";
            return output;
        }
        catch (Exception ex)
        {
            outcome = ex switch
            {
                TransientAgentException => "transient_error",
                PermanentAgentException => "permanent_error",
                OperationCanceledException => "cancelled",
                _ => outcome,
            };
            span?.SetStatus(ActivityStatusCode.Error, outcome);
            throw;
        }
        finally
        {
            QlawTelemetry.ModelCalls.Add(
                1, new(QlawTelemetry.AgentTag, context.Agent.Name), new(QlawTelemetry.ProviderTag, provider),
                new(QlawTelemetry.ModelTag, modelName), new(QlawTelemetry.OutcomeTag, outcome));
        }
    }

    // Streams the agent's answer into the sink; provider failures become transient or permanent turn failures whose
    // messages are ours (the provider's exception stays inside, for the log).
    private async Task<AgentTurnOutput> CallAsync(AgentTurnContext context, ModelOptions model, ITurnTextSink text, CancellationToken cancellationToken)
    {
        var agent = agents.Create(context.Workflow, context.Agent, model, clients.For(model, context));
        var offered = RoutingTools.For(context.Agent).Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        RouteDecision? decision = null;
        string? prompt = null;
        long? inputTokens = null, outputTokens = null;
        try
        {
            await foreach (var update in agent.RunStreamingAsync(ToMessages(context), cancellationToken: cancellationToken))
            {
                await text.AppendAsync(update.Text, cancellationToken);
                foreach (var content in update.Contents)
                {
                    switch (content)
                    {
                        // The first routing call decides; a call of a tool that was not offered, or whose arguments do
                        // not parse, is an invalid decision the router reports and falls back from.
                        case FunctionCallContent call when decision is null:
                            (decision, prompt) = offered.Contains(call.Name) && call.Exception is null
                                ? RoutingTools.Read(call)
                                : (new RouteDecision(RouteAction.Invalid, call.Name), null);
                            break;
                        case UsageContent usage:
                            (inputTokens, outputTokens) = (usage.Details.InputTokenCount, usage.Details.OutputTokenCount);
                            break;
                    }
                }
            }
        }
        catch (ClientResultException ex) when (ex.Status is 0)
        {
            throw new TransientAgentException("The model provider could not be reached; the turn will be retried.", ex);
        }
        catch (ClientResultException ex) when (ex.Status is 408 or 429 or >= 500)
        {
            throw new TransientAgentException($"The model provider answered {ex.Status}; the turn will be retried.", ex);
        }
        catch (ClientResultException ex)
        {
            throw new PermanentAgentException($"The model provider rejected the request ({ex.Status}): check the model name and the endpoint's key.", ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutException or IOException
            || (ex is OperationCanceledException and not AttemptStoppedException && !cancellationToken.IsCancellationRequested))
        {
            throw new TransientAgentException("The model provider did not answer in time; the turn will be retried.", ex);
        }

        return new AgentTurnOutput(text.Text, decision ?? new RouteDecision(RouteAction.EndTurn), prompt, inputTokens, outputTokens);
    }

    private static List<ChatMessage> ToMessages(AgentTurnContext context) =>
        [.. context.History.Select(e => e.Role == "user"
            ? new ChatMessage(ChatRole.User, e.Text)
            : new ChatMessage(ChatRole.Assistant, e.Text) { AuthorName = e.AuthorName })];
}
