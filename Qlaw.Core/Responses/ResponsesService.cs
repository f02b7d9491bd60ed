using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Qlaw.Contracts;
using Qlaw.Contracts.Events;
using Qlaw.Contracts.Responses;
using Qlaw.Contracts.Runs;
using Qlaw.Core.Runs;
using Qlaw.Core.RunStore;
using Qlaw.Core.Streaming;
using Qlaw.Core.Validation;
using Qlaw.Data;
using Qlaw.Data.Runs;

namespace Qlaw.Core.Responses;

/// <summary>
/// The OpenAI Responses-style surface the QLAW CLI calls: <c>POST /v1/responses</c>, <c>send_responses</c> and
/// <c>GET /v1/agents</c>, on top of runs.
/// </summary>
public sealed class ResponsesService(
    QlawDbContext db, RunCommands runs, RunStreamReader stream, ResponseConversations conversations, IOptionsMonitor<ResponsesOptions> options)
{
    /// <summary>
    /// The run's log from where <paramref name="target"/> starts as a Responses stream (see <see cref="ResponseFraming"/>),
    /// without what the client has up to row <paramref name="sentThrough"/> (its <c>Last-Event-ID</c>; 0 for none).
    /// </summary>
    public IAsyncEnumerable<ResponseFrame?> StreamAsync(ResponseTarget target, string model, long sentThrough, CancellationToken cancellationToken) =>
        new ResponseFraming(target, model, options.CurrentValue.AgentHeadings).FrameAsync(stream.ReadAsync(target.RunId, target.After, cancellationToken), sentThrough, cancellationToken);

    /// <summary>
    /// Answers the run this message is for (see <see cref="ResponseConversations"/>), or starts a run of the workflow named
    /// by <c>model</c> — a follow-up carrying the conversation when the run it follows ended. A reused Idempotency-Key
    /// gets the first call's stream.
    /// </summary>
    public async Task<(ResponseTarget? Target, RunCommandResult? Error)> StartAsync(ResponsesRequest request, ResponsesCaller caller, CancellationToken cancellationToken)
    {
        var invalid = ContractValidator.Validate(request);
        if (invalid.Count > 0)
        {
            // The input is read only once the body is known to be well formed.
            return (null, new RunCommandResult.Invalid(invalid));
        }

        var text = ResponseInput.Text(request.Input);
        if (text is null)
        {
            invalid["input"] = ["Give the input as a non-empty string or as input items with text."];
        }

        if (!ResponseConversations.TryReadId(request.Conversation, out var conversation))
        {
            invalid["conversation"] = ["Give the conversation as a string of 1 to 100 characters or as {\"id\": \"…\"}."];
        }

        if (request.Store == false)
        {
            invalid["store"] = ["Qlaw keeps every run (a durable workflow is its record): store cannot be false."];
        }

        NewRunRules.AddKeyErrors(caller.IdempotencyKey, invalid);
        if (invalid.Count > 0)
        {
            return (null, new RunCommandResult.Invalid(invalid));
        }

        if (await conversations.WorkflowAsync(request.Model, cancellationToken) is not { } workflow)
        {
            return (null, new RunCommandResult.NotFound($"No workflow has the id or name '{request.Model}'."));
        }

        if (caller.IdempotencyKey is { } key && await conversations.ReplayAsync(workflow, key, caller.RequestHash, cancellationToken) is { } replay)
        {
            return replay;
        }

        var (previous, via, error) = await conversations.FindAsync(request.PreviousResponseId, conversation, workflow, caller, cancellationToken);
        if (error is not null)
        {
            return (null, error);
        }

        conversation ??= previous?.ConversationId;
        if (previous is { Status: RunStatus.AwaitingInput })
        {
            return await AnswerAsync(previous, workflow, text!, via!, conversation, caller, cancellationToken);
        }

        if (previous is not null)
        {
            // The user's text whole, after as much of the conversation as the run's input has room for.
            var said = $"User: {text}";
            text = await conversations.TranscriptAsync(previous.Id, previous.Input, StartRunRequest.MaxInputLength - said.Length, cancellationToken) + said;
        }

        var origin = new ResponsesOrigin(caller.RequestHash, conversation, caller.ClientKey, previous is null ? null : RunEvents.ResponseId(previous.Id));
        var result = await runs.StartAsync(workflow.Id.ToString(), new StartRunRequest { Input = text! }, caller.IdempotencyKey, caller.Address, cancellationToken, origin);
        return result is RunCommandResult.Accepted accepted
            ? (await conversations.TargetAsync(accepted.Run.Id, 0, workflow, cancellationToken), null)
            : (null, result);
    }

    /// <summary>
    /// <c>send_responses</c>: the answer to a workflow's pending request for input, as <c>{input}</c> (QLAW CLI) or
    /// <c>{responses: {request_id: value}}</c> (Agent Framework bridge).
    /// </summary>
    public async Task<(ResponseTarget? Target, RunCommandResult? Error)> SendAsync(string workflowIdOrName, JsonElement body, ResponsesCaller caller, CancellationToken cancellationToken)
    {
        var invalid = ContractValidator.Validate(body);
        NewRunRules.AddKeyErrors(caller.IdempotencyKey, invalid);
        if (invalid.Count > 0)
        {
            return (null, new RunCommandResult.Invalid(invalid));
        }

        string? text = null;
        string? requestId = null;
        if (body.ValueKind == JsonValueKind.Object && body.TryGetProperty("responses", out var responses) && responses.ValueKind == JsonValueKind.Object)
        {
            foreach (var answer in responses.EnumerateObject())
            {
                text = answer.Value.ValueKind == JsonValueKind.String ? answer.Value.GetString() : answer.Value.GetRawText();
                requestId = answer.Name;
                break;
            }
        }
        else if (body.ValueKind == JsonValueKind.Object && body.TryGetProperty("input", out var input))
        {
            text = ResponseInput.Text(input);
        }

        if (string.IsNullOrEmpty(text))
        {
            return (null, new RunCommandResult.Invalid(new Dictionary<string, string[]> { ["input"] = ["Send {\"input\": \"…\"} or {\"responses\": {\"<request_id>\": \"…\"}}."] }));
        }

        if (await conversations.WorkflowAsync(workflowIdOrName, cancellationToken) is not { } workflow)
        {
            return (null, new RunCommandResult.NotFound($"No workflow has the id or name '{workflowIdOrName}'."));
        }

        if (caller.IdempotencyKey is { } key && await conversations.ReplayAsync(workflow, key, caller.RequestHash, cancellationToken) is { } replay)
        {
            return replay;
        }

        var runId = requestId is null ? null : RequestRunId(requestId);
        var waiting = await db.Runs.AsNoTracking()
            .Where(r => r.WorkflowId == workflow.Id && r.Status == RunStatus.AwaitingInput && (runId == null || r.Id == runId))
            .OrderByDescending(r => r.Id).FirstOrDefaultAsync(cancellationToken);
        if (requestId is not null && (waiting is null || RunEvents.RequestId(waiting.Id, waiting.CurrentStep) != requestId))
        {
            // A named request is answered only while it waits: never another run's, nor a later question of its run.
            return (null, new RunCommandResult.Invalid(new Dictionary<string, string[]>
            {
                ["responses"] = [$"No request of the workflow '{workflow.Name}' waiting for input has the id '{requestId}'."],
            }));
        }

        return waiting is { } run
            ? await AnswerAsync(run, workflow, text, "send_responses", run.ConversationId, caller, cancellationToken)
            : (null, new RunCommandResult.Conflict(RunStatus.Running, "No run of this workflow is waiting for input."));
    }

    /// <summary>Waits until the run ends or pauses, then describes it as one OpenAI-style response object.</summary>
    public async Task<ResponseObject> WaitForResponseAsync(ResponseTarget target, string model, CancellationToken cancellationToken)
    {
        // Read to the end of the run's stream, picking up again where a lagging read was dropped.
        var (after, lagged) = (0L, true);
        while (lagged)
        {
            lagged = false;
            await foreach (var row in stream.ReadAsync(target.RunId, after, cancellationToken))
            {
                (after, lagged) = row is null ? (after, false) : ReferenceEquals(row, RunEventRow.Lagged) ? (after, true) : (row.Id, false);
            }
        }

        return await DescribeAsync(target, model, cancellationToken);
    }

    /// <summary>
    /// The run behind a response as it stands (<c>GET /v1/responses/{id}</c>, a background start): its status, one
    /// output message per completed turn (whole), the tokens its model reported, its error.
    /// </summary>
    public async Task<ResponseObject> DescribeAsync(ResponseTarget target, string model, CancellationToken cancellationToken)
    {
        var run = await db.Runs.AsNoTracking().Where(r => r.Id == target.RunId)
            .Select(r => new { r.Status, r.LastError, r.LastErrorCode }).SingleAsync(cancellationToken);
        var steps = await db.Steps.AsNoTracking().Where(s => s.RunId == target.RunId && s.Status == StepStatus.Completed)
            .OrderBy(s => s.Index).Select(s => new { s.Index, s.Attempt, s.Agent, s.Output }).ToListAsync(cancellationToken);
        var usage = await db.Database.SqlQuery<Tokens>($"""
            SELECT sum((detail ->> 'input_tokens')::bigint) AS input, sum((detail ->> 'output_tokens')::bigint) AS output
            FROM audit_logs WHERE run_id = {target.RunId} AND type = {AuditTypes.StepCompleted}
            """).SingleAsync(cancellationToken);
        var (headings, spoke) = (options.CurrentValue.AgentHeadings, false);
        var output = new List<OutputItem>(steps.Count);
        foreach (var step in steps)
        {
            // A turn's text as its stream showed it: under its heading when it said anything.
            var text = step.Output ?? "";
            text = headings && text.Length > 0 ? RunResponses.Heading(step.Agent, step.Attempt, first: !spoke) + text : text;
            spoke |= text.Length > 0;
            output.Add(new OutputMessage(RunResponses.ItemId(target.RunId, step.Index, step.Attempt), "completed", step.Agent, step.Index, step.Attempt, [new OutputText(text)]));
        }

        var (status, incomplete) = run.Status switch
        {
            RunStatus.Completed => ("completed", null),
            RunStatus.Failed => ("failed", null),
            RunStatus.Cancelled => ("cancelled", new IncompleteDetails("cancelled")),
            RunStatus.AwaitingInput => ("incomplete", new IncompleteDetails("awaiting_input")),
            RunStatus.Queued => ("queued", (IncompleteDetails?)null),
            _ => ("in_progress", null),
        };
        var error = run.Status == RunStatus.Failed ? new ResponseErrorBody(run.LastErrorCode ?? RunErrorCodes.Internal, run.LastError ?? "The run failed.") : null;
        var known = usage.Input is not null || usage.Output is not null ? new ResponseUsage(usage.Input ?? 0, usage.Output ?? 0) : null;
        return RunResponses.Describe(target, model, status, output, known, error) with { IncompleteDetails = incomplete };
    }

    private sealed record Tokens(long? Input, long? Output);

    /// <summary>Cancels the run behind a response; the response then says <c>cancelled</c>.</summary>
    public async Task<(ResponseObject? Response, RunCommandResult? Error)> CancelAsync(ResponseTarget target, CancellationToken cancellationToken) =>
        await runs.CancelAsync(target.RunId, cancellationToken) is var result && result is RunCommandResult.Accepted
            ? (await DescribeAsync(target, target.Workflow, cancellationToken), null)
            : (null, result);

    // The answer and its trace and audit entry are one write of the run's log; the stream starts after the question.
    private async Task<(ResponseTarget?, RunCommandResult?)> AnswerAsync(
        RunEntity run, WorkflowRef workflow, string text, string via, string? conversation, ResponsesCaller caller, CancellationToken cancellationToken)
    {
        var after = await stream.LastEventIdAsync(run.Id, cancellationToken);
        var answered = new InputAnswered(RunEvents.ResponseId(run.Id), run.CurrentStep, via, conversation, caller.ClientKey, caller.IdempotencyKey, caller.RequestHash, after);
        var result = await runs.ContinueAsync(run.Id, new ContinueRunRequest { Input = text }, cancellationToken, answered);
        return result is RunCommandResult.Accepted
            ? (new ResponseTarget(run.Id, after, workflow.Name, run.CreatedAt), null)
            : (null, result);
    }

    // Request ids are req_{run}_{step} (RunEvents.InputRequest).
    private static Guid? RequestRunId(string requestId) =>
        requestId.Split('_') is ["req", var run, _] && Guid.TryParseExact(run, "N", out var id) ? id : null;
}
