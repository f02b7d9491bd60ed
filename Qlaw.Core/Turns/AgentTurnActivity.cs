using System.Diagnostics;
using Microsoft.DurableTask;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Qlaw.Contracts;
using Qlaw.Contracts.Runs;
using Qlaw.Core.Agents;
using Qlaw.Core.Configuration;
using Qlaw.Core.Database;
using Qlaw.Core.Limits;
using Qlaw.Core.Orchestration;
using Qlaw.Core.RunStore;
using Qlaw.Core.Streaming;
using Qlaw.Core.Telemetry;

namespace Qlaw.Core.Turns;

/// <summary>
/// One agent turn: records the transition and attempt, runs the agent — stopped as soon as the run is cancelled or the
/// attempt superseded — and records the outcome. Everything it throws is a <see cref="TurnFailedException"/> whose
/// message is safe to show; the exception behind it goes to the log with the trace id.
/// </summary>
public sealed partial class AgentTurnActivity(
    IServiceScopeFactory scopes, IAgentTurnRunner runner, NpgsqlDataSource dataSource, RunEventHub hub, DeltaBatcher batcher, DatabaseOutage outage, TimeProvider clock,
    IOptionsMonitor<RecoveryOptions> recovery, IOptionsMonitor<StreamingOptions> streaming, IOptionsMonitor<LimitsOptions> limits, ILogger<AgentTurnActivity> logger)
    : TaskActivity<TurnRequest, TurnResult>
{
    public override async Task<TurnResult> RunAsync(TaskActivityContext context, TurnRequest input)
    {
        using var span = QlawTelemetry.Source.StartActivity(QlawTelemetry.AgentTurnSpan)?
            .SetTag(QlawTelemetry.RunIdTag, input.RunId.ToString())
            .SetTag(QlawTelemetry.StepTag, input.State.Step)
            .SetTag(QlawTelemetry.AgentTag, input.State.Agent);
        using var logScope = logger.BeginScope(QlawTelemetry.StepScope(input.RunId, input.State.Step));
        try
        {
            return await RunTurnAsync(input, span);
        }
        catch (TurnFailedException)
        {
            throw;
        }
        catch (Exception ex) when (DatabaseOutage.IsOutage(ex))
        {
            // Nothing the turn writes can succeed now: wait for the database, then the retry policy runs the turn again
            // (the attempt left running is superseded by the next one).
            LogDatabaseOutage(logger, input.State.Agent, input.State.Step, ex);
            await outage.WaitAsync(CancellationToken.None);
            throw new TurnFailedException(new(RunErrorCodes.DatabaseUnavailable, "PostgreSQL was out of reach for the turn."));
        }
        catch (Exception ex)
        {
            throw new TurnFailedException(Crashed(input, span, ex));
        }
    }

    // A failure nobody expected: logged whole with the trace id, which is all the client is told of it.
    private RunError Crashed(TurnRequest input, Activity? span, Exception ex)
    {
        var trace = Activity.Current?.TraceId.ToString() ?? "none";
        LogTurnCrashed(logger, input.State.Agent, trace, ex);
        span?.SetStatus(ActivityStatusCode.Error, RunErrorCodes.Internal);
        return new(RunErrorCodes.Internal, $"The turn failed unexpectedly; the server log has the details (trace {trace}).");
    }

    private async Task<TurnResult> RunTurnAsync(TurnRequest input, Activity? span)
    {
        await using var scope = scopes.CreateAsyncScope();
        var journal = scope.ServiceProvider.GetRequiredService<TurnJournal>();

        // Listening from before the attempt begins, so that a cancel committed after it is heard.
        await using var watch = AttemptWatch.Listen(hub, dataSource, input.RunId);
        var start = await scope.ServiceProvider.GetRequiredService<TurnStarter>().BeginTurnAsync(input, CancellationToken.None);
        if (start is not TurnStart.Started started)
        {
            return ((TurnStart.Finished)start).Result;
        }

        var turn = started.Context;
        await using var attempt = started.Attempt;
        span?.SetTag(QlawTelemetry.AttemptTag, turn.Attempt);

        // The attempt's row commits with the turn's first text when the model answers within the delta window, else on
        // its own when the window ends; the watch starts once it is committed. A model behind an endpoint answers in
        // hundreds of milliseconds at best: its attempt commits at once rather than hold a connection for the window.
        var offline = ChatClientProvider.Resolve(turn.Workflow, turn.Agent).Provider != ModelProvider.Openai;
        var windowMs = offline ? streaming.CurrentValue.DeltaWindowMs : 0;
        var heartbeat = TimeSpan.FromSeconds(recovery.CurrentValue.HeartbeatSeconds);
        await attempt.CommitWithinAsync(TimeSpan.FromMilliseconds(windowMs), clock, () => watch.Attach(attempt.StepId, heartbeat));
        var maxChars = input.Plan.MaxTurnChars ?? limits.CurrentValue.MaxTurnChars;
        var log = new TurnLog(batcher, scope.ServiceProvider.GetRequiredService<RunLog>(), clock, maxChars, turn, attempt);
        string? tail = null;
        try
        {
            var output = await runner.RunAsync(turn, log, watch.Stopped);
            await attempt.CommitAsync(null);
            tail = await log.EndAsync();
            return await journal.CompleteTurnAsync(attempt, input, turn, output, tail, CancellationToken.None);
        }
        catch (OperationCanceledException)
        {
            // Cancelled or superseded while the model ran: the attempt writes nothing more; the run log says what's next.
            LogAttemptStopped(logger, input.State.Agent, turn.Attempt);
            await attempt.CommitAsync(null);
            await log.EndAsync();
            await journal.CountTokensAsync(input.RunId, TokenEstimate.Spent(turn, log.Length), CancellationToken.None);
            return await journal.AfterStopAsync(attempt.StepId, input, CancellationToken.None)
                ?? throw new TurnFailedException(new(RunErrorCodes.Internal, "The model call stopped before the turn completed."));
        }
        catch (PermanentAgentException ex)
        {
            LogTurnFailed(logger, input.State.Agent, turn.Attempt, "permanently: the run is dead-lettered", ex);
            span?.SetStatus(ActivityStatusCode.Error, ex.Code);
            var error = new RunError(ex.Code, ex.Message);
            await attempt.CommitAsync(null);
            await journal.FailTurnAsync(attempt.StepId, input, error, permanent: true, tail ?? await log.EndAsync(), TokenEstimate.Spent(turn, log.Length), CancellationToken.None);
            return new TurnResult(null, error);
        }
        catch (Exception ex) when (ex is not TurnFailedException && !DatabaseOutage.IsOutage(ex))
        {
            // The provider failed for now, or something nobody expected did: the attempt fails, and the retry policy
            // takes over (a database out of reach fails every write; the outer catch waits for it).
            RunError error;
            if (ex is TransientAgentException or TimeoutException or HttpRequestException)
            {
                LogTurnFailed(logger, input.State.Agent, turn.Attempt, "transiently: the retry policy takes over", ex);
                error = ex is TransientAgentException transient
                    ? new RunError(transient.Code, transient.Message)
                    : new RunError(RunErrorCodes.ModelUnavailable, "The model provider did not answer.");
                span?.SetStatus(ActivityStatusCode.Error, error.Code);
            }
            else
            {
                error = Crashed(input, span, ex);
            }

            await attempt.CommitAsync(null);
            await journal.FailTurnAsync(attempt.StepId, input, error, permanent: false, tail ?? await log.EndAsync(), TokenEstimate.Spent(turn, log.Length), CancellationToken.None);
            throw new TurnFailedException(error, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Turn of {Agent} at step {Step} found PostgreSQL out of reach; it runs again once the database answers")]
    private static partial void LogDatabaseOutage(ILogger logger, string agent, int step, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Turn of {Agent} (attempt {Attempt}) failed {Consequence}")]
    private static partial void LogTurnFailed(ILogger logger, string agent, int attempt, string consequence, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Turn of {Agent} failed unexpectedly (trace {TraceId}); the retry policy takes over")]
    private static partial void LogTurnCrashed(ILogger logger, string agent, string traceId, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Turn of {Agent} (attempt {Attempt}) stopped: the run was cancelled or the attempt superseded")]
    private static partial void LogAttemptStopped(ILogger logger, string agent, int attempt);
}
