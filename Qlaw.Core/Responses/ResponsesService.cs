using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Qlaw.Contracts;
using Qlaw.Contracts.Responses;
using Qlaw.Contracts.Runs;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Agents;
using Qlaw.Core.Runs;
using Qlaw.Core.Streaming;
using Qlaw.Core.Validation;
using Qlaw.Data;

namespace Qlaw.Core.Responses;

/// <summary>Where a response's stream starts: the run, and the event after which its new events begin.</summary>
public sealed record ResponseTarget(Guid RunId, long After);

/// <summary>
/// The OpenAI Responses-style surface the QLAW CLI calls: <c>POST /v1/responses</c>, <c>send_responses</c> and
/// <c>GET /v1/agents</c>, on top of runs.
/// </summary>
public sealed class ResponsesService(QlawDbContext db, RunCommands runs, RunQueries queries, RunStreamReader stream)
{
    /// <summary>Starts a run of the named workflow for <paramref name="client"/>, continues a waiting one, or starts a follow-up run.</summary>
    public async Task<(ResponseTarget? Target, RunCommandResult? Error)> StartAsync(ResponsesRequest request, string? client, CancellationToken cancellationToken)
    {
        var invalid = ContractValidator.Validate(request);
        if (invalid.Count > 0)
        {
            return (null, new RunCommandResult.Invalid(invalid));
        }

        var text = InputText(request.Input);
        if (text is null)
        {
            return (null, new RunCommandResult.Invalid(new Dictionary<string, string[]> { ["input"] = ["Give the input as a non-empty string or as input items with text."] }));
        }

        if (request.PreviousResponseId is { } previousId)
        {
            if (!TryParseResponseId(previousId, out var previousRun) || await db.Runs.AsNoTracking().FirstOrDefaultAsync(r => r.Id == previousRun, cancellationToken) is not { } previous)
            {
                return (null, new RunCommandResult.NotFound($"No response has the id '{previousId}'."));
            }

            if (previous.Status == RunStatus.AwaitingInput)
            {
                return await ContinueAsync(previous.Id, text, cancellationToken);
            }

            text = await TranscriptAsync(previous.Id, previous.Input, cancellationToken) + $"User: {text}";
        }

        return await StartRunAsync(request.Model, text, client, cancellationToken);
    }

    /// <summary>
    /// <c>send_responses</c>: the answer to a workflow's pending request for input, as <c>{input}</c> (QLAW CLI) or
    /// <c>{responses: {request_id: value}}</c> (Agent Framework bridge).
    /// </summary>
    public async Task<(ResponseTarget? Target, RunCommandResult? Error)> SendAsync(string workflowIdOrName, JsonElement body, CancellationToken cancellationToken)
    {
        var invalid = ContractValidator.ValidateJson(body, "");
        if (invalid.Count > 0)
        {
            return (null, new RunCommandResult.Invalid(invalid));
        }

        string? text = null;
        Guid? runId = null;
        if (body.ValueKind == JsonValueKind.Object && body.TryGetProperty("responses", out var responses) && responses.ValueKind == JsonValueKind.Object)
        {
            foreach (var answer in responses.EnumerateObject())
            {
                text = answer.Value.ValueKind == JsonValueKind.String ? answer.Value.GetString() : answer.Value.GetRawText();
                runId = RequestRunId(answer.Name);
                break;
            }
        }
        else if (body.ValueKind == JsonValueKind.Object && body.TryGetProperty("input", out var input))
        {
            text = InputText(input);
        }

        if (string.IsNullOrEmpty(text))
        {
            return (null, new RunCommandResult.Invalid(new Dictionary<string, string[]> { ["input"] = ["Send {\"input\": \"…\"} or {\"responses\": {\"<request_id>\": \"…\"}}."] }));
        }

        var workflowId = await (Guid.TryParse(workflowIdOrName, out var id)
            ? db.Workflows.Where(w => w.Id == id)
            : db.Workflows.Where(w => w.Name == workflowIdOrName)).Select(w => (Guid?)w.Id).FirstOrDefaultAsync(cancellationToken);
        if (workflowId is null)
        {
            return (null, new RunCommandResult.NotFound($"No workflow has the id or name '{workflowIdOrName}'."));
        }

        var waiting = await db.Runs.AsNoTracking()
            .Where(r => r.WorkflowId == workflowId && r.Status == RunStatus.AwaitingInput && (runId == null || r.Id == runId))
            .OrderByDescending(r => r.Id).Select(r => (Guid?)r.Id).FirstOrDefaultAsync(cancellationToken);
        return waiting is { } run
            ? await ContinueAsync(run, text, cancellationToken)
            : (null, new RunCommandResult.Conflict(RunStatus.Running, "No run of this workflow is waiting for input."));
    }

    /// <summary>Waits until the run ends or pauses, then describes it as one OpenAI-style response object.</summary>
    public async Task<JsonObject> WaitForResponseAsync(Guid runId, string model, CancellationToken cancellationToken)
    {
        // Read to the end of the run's stream, picking up again where a lagging read was dropped.
        var (after, lagged) = (0L, true);
        while (lagged)
        {
            lagged = false;
            await foreach (var row in stream.ReadAsync(runId, after, cancellationToken))
            {
                (after, lagged) = row is null ? (after, false) : ReferenceEquals(row, RunEventRow.Lagged) ? (after, true) : (row.Id, false);
            }
        }

        var status = (await queries.GetStatusAsync(runId, cancellationToken))!;
        var completed = status.Steps.Where(s => s.Status == StepStatus.Completed).ToList();
        var output = new JsonArray([.. completed.Select(s => (JsonNode)new JsonObject
        {
            ["type"] = "message",
            ["id"] = RunEvents.ItemId(runId, s.Index),
            ["role"] = "assistant",
            ["status"] = "completed",
            ["author_name"] = s.Agent,
            ["content"] = new JsonArray(new JsonObject { ["type"] = "output_text", ["text"] = s.Output, ["annotations"] = new JsonArray() }),
        })]);
        return new JsonObject
        {
            ["id"] = RunEvents.ResponseId(runId),
            ["object"] = "response",
            ["created_at"] = status.CreatedAt.ToUnixTimeSeconds(),
            ["status"] = status.Status switch
            {
                RunStatus.Completed => "completed",
                RunStatus.Failed => "failed",
                RunStatus.Cancelled => "cancelled",
                RunStatus.AwaitingInput => "incomplete",
                _ => "in_progress",
            },
            ["model"] = model,
            ["run_id"] = runId.ToString(),
            ["output"] = output,
            ["output_text"] = completed.LastOrDefault()?.Output ?? "",
            ["error"] = status.LastError is { } error ? new JsonObject { ["message"] = error } : null,
        };
    }

    /// <summary>
    /// The agents of one keyset page of stored workflows, in creation order: <see cref="PageRequest.Limit"/> counts
    /// workflows (each has at most <see cref="WorkflowDefinition.MaxAgents"/> agents) and the cursor is a workflow id.
    /// </summary>
    public async Task<ListPage<AgentInfo>> ListAgentsAsync(PageRequest page, CancellationToken cancellationToken)
    {
        var query = db.Workflows.AsNoTracking();
        if (page.After is { } after)
        {
            query = query.Where(w => w.Id > after);
        }

        var rows = await query.OrderBy(w => w.Id).Take(page.Limit + 1).Select(w => new { w.Id, w.Config }).ToListAsync(cancellationToken);
        var workflows = page.ToPage(rows, w => w.Id);
        return new ListPage<AgentInfo>(
            [.. workflows.Data
                .Select(row => JsonSerializer.Deserialize<WorkflowDefinition>(row.Config, QlawJson.Options)!)
                .SelectMany(w => w.Agents.Select(a => new AgentInfo(
                    $"{w.Name}.{a.Name}",
                    a.Name,
                    a.Instructions ?? RoleInstructions.For(a.Role!.Value),
                    ChatClientProvider.Resolve(w, a) is { Provider: ModelProvider.Openai } model ? model.Model : "scripted")))],
            workflows.HasMore,
            workflows.LastId);
    }

    /// <summary>Reads a response id (<c>resp_…</c>) or a bare run id.</summary>
    public static bool TryParseResponseId(string id, out Guid runId) =>
        Guid.TryParse(id.StartsWith("resp_", StringComparison.Ordinal) ? id[5..] : id, out runId);

    private async Task<(ResponseTarget?, RunCommandResult?)> StartRunAsync(string model, string text, string? client, CancellationToken cancellationToken)
    {
        var result = await runs.StartAsync(model, new StartRunRequest { Input = text }, null, client, cancellationToken);
        return result is RunCommandResult.Accepted accepted ? (new ResponseTarget(accepted.Run.Id, 0), null) : (null, result);
    }

    private async Task<(ResponseTarget?, RunCommandResult?)> ContinueAsync(Guid runId, string text, CancellationToken cancellationToken)
    {
        var after = await stream.LastEventIdAsync(runId, cancellationToken);
        var result = await runs.ContinueAsync(runId, new ContinueRunRequest { Input = text }, cancellationToken);
        return result is RunCommandResult.Accepted ? (new ResponseTarget(runId, after), null) : (null, result);
    }

    private async Task<string> TranscriptAsync(Guid runId, string input, CancellationToken cancellationToken)
    {
        var transcript = new StringBuilder($"Earlier conversation:\nUser: {input}\n");
        var steps = await db.Steps.AsNoTracking().Where(s => s.RunId == runId && s.Status == StepStatus.Completed)
            .OrderBy(s => s.Index).Select(s => new { s.Agent, s.Input, s.Output, s.Index }).ToListAsync(cancellationToken);
        foreach (var step in steps)
        {
            if (step.Index > 0 && step.Input is { } said)
            {
                transcript.Append($"User: {said}\n");
            }

            transcript.Append($"{step.Agent}: {step.Output}\n");
        }

        return transcript.Append('\n').ToString();
    }

    // Request ids are req_{run}_{step} (RunEvents.InputRequest).
    private static Guid? RequestRunId(string requestId) =>
        requestId.Split('_') is ["req", var run, _] && Guid.TryParseExact(run, "N", out var id) ? id : null;

    private static string? InputText(JsonElement input)
    {
        var text = input.ValueKind switch
        {
            JsonValueKind.String => input.GetString(),
            JsonValueKind.Array => string.Join("\n\n", input.EnumerateArray().Select(ItemText).Where(t => !string.IsNullOrEmpty(t))),
            JsonValueKind.Object => ItemText(input),
            _ => null,
        };
        return string.IsNullOrWhiteSpace(text) ? null : text;

        static string? ItemText(JsonElement item) => item.ValueKind switch
        {
            JsonValueKind.String => item.GetString(),
            JsonValueKind.Object when item.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String => t.GetString(),
            JsonValueKind.Object when item.TryGetProperty("content", out var c) => c.ValueKind == JsonValueKind.String
                ? c.GetString()
                : c.ValueKind == JsonValueKind.Array ? string.Concat(c.EnumerateArray().Select(ItemText)) : null,
            _ => null,
        };
    }
}
