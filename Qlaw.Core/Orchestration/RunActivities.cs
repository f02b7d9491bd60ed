using Microsoft.DurableTask;
using Microsoft.Extensions.DependencyInjection;
using Qlaw.Core.Agents;
using Qlaw.Core.Runs;

namespace Qlaw.Core.Orchestration;

/// <summary>One agent turn: records the transition and attempt, runs the agent, records the outcome.</summary>
public sealed class AgentTurnActivity(IServiceScopeFactory scopes, IAgentTurnRunner runner) : TaskActivity<TurnRequest, TurnResult>
{
    public const string Name = nameof(AgentTurnActivity);

    public override async Task<TurnResult> RunAsync(TaskActivityContext context, TurnRequest input)
    {
        await using var scope = scopes.CreateAsyncScope();
        var journal = scope.ServiceProvider.GetRequiredService<RunJournal>();
        var start = await journal.BeginTurnAsync(input, CancellationToken.None);
        if (start is not TurnStart.Started started)
        {
            return ((TurnStart.Finished)start).Result;
        }

        try
        {
            var output = await runner.RunAsync(started.Context, CancellationToken.None);
            var handoff = await journal.CompleteTurnAsync(started.StepId, started.Context, output, CancellationToken.None);
            return new TurnResult(output.Decision, false, null, handoff);
        }
        catch (PermanentAgentException ex)
        {
            await journal.FailTurnAsync(started.StepId, input, ex.Message, permanent: true, CancellationToken.None);
            return new TurnResult(null, false, ex.Message, null);
        }
        catch (Exception ex) when (ex is TransientAgentException or TimeoutException or HttpRequestException)
        {
            await journal.FailTurnAsync(started.StepId, input, ex.Message, permanent: false, CancellationToken.None);
            throw;
        }
    }
}

/// <summary>Marks a run failed after its retries ran out (<c>run.dead_lettered</c>).</summary>
public sealed class DeadLetterActivity(IServiceScopeFactory scopes) : TaskActivity<DeadLetterRequest, string>
{
    public const string Name = nameof(DeadLetterActivity);

    public override async Task<string> RunAsync(TaskActivityContext context, DeadLetterRequest input)
    {
        await using var scope = scopes.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<RunJournal>().DeadLetterAsync(input, CancellationToken.None);
        return "dead_lettered";
    }
}

/// <summary>Ends a run as completed or failed.</summary>
public sealed class FinishRunActivity(IServiceScopeFactory scopes) : TaskActivity<FinishRunRequest, string>
{
    public const string Name = nameof(FinishRunActivity);

    public override async Task<string> RunAsync(TaskActivityContext context, FinishRunRequest input)
    {
        await using var scope = scopes.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<RunJournal>().FinishAsync(input, CancellationToken.None);
        return input.Succeeded ? "completed" : "failed";
    }
}
