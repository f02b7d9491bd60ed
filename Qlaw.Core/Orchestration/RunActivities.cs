using System.Diagnostics;
using Microsoft.DurableTask;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Qlaw.Core.Agents;
using Qlaw.Core.Database;
using Qlaw.Core.Recovery;
using Qlaw.Core.Runs;
using Qlaw.Core.Telemetry;

namespace Qlaw.Core.Orchestration;

/// <summary>One agent turn: records the transition and attempt, runs the agent, records the outcome.</summary>
public sealed partial class AgentTurnActivity(
    IServiceScopeFactory scopes, IAgentTurnRunner runner, NpgsqlDataSource dataSource, DatabaseOutage outage,
    IOptionsMonitor<RecoveryOptions> recovery, ILogger<AgentTurnActivity> logger)
    : TaskActivity<TurnRequest, TurnResult>
{
    public const string Name = nameof(AgentTurnActivity);

    public override async Task<TurnResult> RunAsync(TaskActivityContext context, TurnRequest input)
    {
        try
        {
            return await RunTurnAsync(input);
        }
        catch (Exception ex) when (DatabaseOutage.IsOutage(ex))
        {
            // Nothing the turn writes can succeed now: wait for the database, then the retry policy runs the turn again
            // (the attempt left running is superseded by the next one).
            LogDatabaseOutage(logger, input.State.Agent, input.State.Step, ex);
            await outage.WaitAsync(CancellationToken.None);
            throw;
        }
    }

    private async Task<TurnResult> RunTurnAsync(TurnRequest input)
    {
        using var span = QlawTelemetry.Source.StartActivity(QlawTelemetry.AgentTurnSpan)?
            .SetTag(QlawTelemetry.RunIdTag, input.RunId.ToString())
            .SetTag(QlawTelemetry.StepTag, input.State.Step)
            .SetTag(QlawTelemetry.AgentTag, input.State.Agent);
        using var logScope = logger.BeginScope(QlawTelemetry.StepScope(input.RunId, input.State.Step));
        await using var scope = scopes.CreateAsyncScope();
        var journal = scope.ServiceProvider.GetRequiredService<RunJournal>();
        var start = await journal.BeginTurnAsync(input, CancellationToken.None);
        if (start is not TurnStart.Started started)
        {
            return ((TurnStart.Finished)start).Result;
        }

        span?.SetTag(QlawTelemetry.AttemptTag, started.Context.Attempt);
        try
        {
            AgentTurnOutput output;
            await using (StepHeartbeat.Start(dataSource, started.StepId, TimeSpan.FromSeconds(recovery.CurrentValue.HeartbeatSeconds)))
            {
                output = await runner.RunAsync(started.Context, CancellationToken.None);
            }

            // The orchestrator routes the decision the same way (a pure function of the plan, the state and the decision);
            // when it ends the run, the run is finished with the step, unless an API handoff takes over.
            var finish = input.Plan is { } plan && RunRouter.Route(plan, input.State, output.Decision) is RouteOutcome.Completed completed
                ? new FinishRunRequest(input.RunId, completed.State, true, null, completed.Warning)
                : null;
            var (handoff, finished) = await journal.CompleteTurnAsync(started.StepId, started.Context, output, finish, CancellationToken.None);
            return new TurnResult(output.Decision, false, null, handoff, finished);
        }
        catch (PermanentAgentException ex)
        {
            LogTurnFailed(logger, input.State.Agent, started.Context.Attempt, "permanently: the run is dead-lettered", ex);
            span?.SetStatus(ActivityStatusCode.Error, ex.Message);
            await journal.FailTurnAsync(started.StepId, input, ex.Message, permanent: true, CancellationToken.None);
            return new TurnResult(null, false, ex.Message, null);
        }
        catch (Exception ex) when (ex is TransientAgentException or TimeoutException or HttpRequestException)
        {
            LogTurnFailed(logger, input.State.Agent, started.Context.Attempt, "transiently: the retry policy takes over", ex);
            span?.SetStatus(ActivityStatusCode.Error, ex.Message);
            await journal.FailTurnAsync(started.StepId, input, ex.Message, permanent: false, CancellationToken.None);
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Turn of {Agent} at step {Step} found PostgreSQL out of reach; it runs again once the database answers")]
    private static partial void LogDatabaseOutage(ILogger logger, string agent, int step, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Turn of {Agent} (attempt {Attempt}) failed {Consequence}")]
    private static partial void LogTurnFailed(ILogger logger, string agent, int attempt, string consequence, Exception exception);
}

/// <summary>Marks a run failed after its retries ran out (<c>run.dead_lettered</c>).</summary>
public sealed class DeadLetterActivity(IServiceScopeFactory scopes, DatabaseOutage outage) : TaskActivity<DeadLetterRequest, string>
{
    public const string Name = nameof(DeadLetterActivity);

    public override Task<string> RunAsync(TaskActivityContext context, DeadLetterRequest input) =>
        JournalWrite.RunAsync(scopes, outage, journal => journal.DeadLetterAsync(input, CancellationToken.None), "dead_lettered");
}

/// <summary>Ends a run as completed or failed.</summary>
public sealed class FinishRunActivity(IServiceScopeFactory scopes, DatabaseOutage outage) : TaskActivity<FinishRunRequest, string>
{
    public const string Name = nameof(FinishRunActivity);

    public override Task<string> RunAsync(TaskActivityContext context, FinishRunRequest input) =>
        JournalWrite.RunAsync(scopes, outage, journal => journal.FinishAsync(input, CancellationToken.None), input.Succeeded ? "completed" : "failed");
}

/// <summary>One idempotent <see cref="RunJournal"/> write in a scope of its own, run again once a database outage is over.</summary>
internal static class JournalWrite
{
    public static Task<string> RunAsync(IServiceScopeFactory scopes, DatabaseOutage outage, Func<RunJournal, Task> write, string result) =>
        outage.RetryAsync(
            async () =>
            {
                await using var scope = scopes.CreateAsyncScope();
                await write(scope.ServiceProvider.GetRequiredService<RunJournal>());
                return result;
            },
            CancellationToken.None);
}
