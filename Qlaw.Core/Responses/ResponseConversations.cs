using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Qlaw.Contracts;
using Qlaw.Contracts.Events;
using Qlaw.Core.RunStore;
using Qlaw.Core.Runs;
using Qlaw.Core.Validation;
using Qlaw.Core.Workflows;
using Qlaw.Data;
using Qlaw.Data.Runs;

namespace Qlaw.Core.Responses;

/// <summary>
/// Who calls <c>/v1/responses</c>: the client (a hash of its address and <c>User-Agent</c> — there is no
/// authentication), its address (for the per-client cap on active runs), the call's Idempotency-Key and the hash of its body.
/// </summary>
public sealed record ResponsesCaller(string ClientKey, string? IdempotencyKey, string RequestHash, string? Address = null)
{
    /// <summary>
    /// A caller from the parts of its request; <paramref name="fields"/> and <paramref name="body"/> are what makes its
    /// body the same request (its scalar fields, its JSON values).
    /// </summary>
    public static ResponsesCaller From(string? address, string? userAgent, string? idempotencyKey, string fields, params ReadOnlySpan<JsonElement> body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(fields));
        hash.AppendData([0]);
        foreach (var part in body)
        {
            // The raw bytes as received: hashing never fails, whatever the body holds (a lone surrogate, a NUL).
            hash.AppendData(part.ValueKind == JsonValueKind.Undefined ? [] : JsonMarshal.GetRawUtf8Value(part));
            hash.AppendData([0]);
        }

        return new(Hash($"{address}\n{userAgent}"), idempotencyKey, Convert.ToHexStringLower(hash.GetHashAndReset()), address);
    }

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}

/// <summary>A workflow as a response names it.</summary>
public sealed record WorkflowRef(Guid Id, string Name);

/// <summary>
/// Which run a <c>/v1/responses</c> message is for (DESIGN §8): the run <c>previous_response_id</c> names; else the
/// latest run of its <c>conversation</c>; else — the QLAW CLI, which correlates nothing — the same client's latest run
/// of the workflow that awaits input and was started through <c>/v1/responses</c> within
/// <c>Responses:AnswerWindowMinutes</c>. And which earlier call a reused Idempotency-Key repeats, and which run a
/// response id names.
/// </summary>
public sealed class ResponseConversations(QlawDbContext db, IOptionsMonitor<ResponsesOptions> options, TimeProvider clock)
{
    /// <summary>Reads <c>conversation</c>: absent, a string, or <c>{id}</c>; false for anything else.</summary>
    public static bool TryReadId(JsonElement? conversation, out string? id)
    {
        if (conversation is { } given && ContractValidator.Validate(given, "conversation").Count > 0)
        {
            id = null;
            return false;
        }

        id = conversation switch
        {
            null or { ValueKind: JsonValueKind.Null or JsonValueKind.Undefined } => null,
            { ValueKind: JsonValueKind.String } text => text.GetString(),
            { ValueKind: JsonValueKind.Object } item when item.TryGetProperty("id", out var value) && value.ValueKind == JsonValueKind.String => value.GetString(),
            _ => "",
        };
        return id is null or { Length: > 0 and <= 100 };
    }

    /// <summary>The workflow with that id or name.</summary>
    public Task<WorkflowRef?> WorkflowAsync(string idOrName, CancellationToken cancellationToken) =>
        WorkflowCatalog.Named(db, idOrName).Select(w => new WorkflowRef(w.Id, w.Name)).FirstOrDefaultAsync(cancellationToken);

    /// <summary>
    /// The run this message answers or follows up, and how it was found; an error when the named response does not
    /// exist, when the previous response's run or the conversation's latest run is still running, or when it asks and
    /// <c>model</c> names another workflow than its own.
    /// </summary>
    public async Task<(RunEntity? Run, string? Via, RunCommandResult? Error)> FindAsync(
        string? previousResponseId, string? conversation, WorkflowRef workflow, ResponsesCaller caller, CancellationToken cancellationToken)
    {
        var runs = db.Runs.AsNoTracking();
        if (previousResponseId is not null)
        {
            return RunResponses.TryParseResponseId(previousResponseId, out var previousId) && await runs.FirstOrDefaultAsync(r => r.Id == previousId, cancellationToken) is { } previous
                ? await FollowAsync(previous, "previous_response_id")
                : (null, null, new RunCommandResult.NotFound($"No response has the id '{previousResponseId}'."));
        }

        if (conversation is not null)
        {
            return await FollowAsync(await runs.Where(r => r.ConversationId == conversation).OrderByDescending(r => r.Id).FirstOrDefaultAsync(cancellationToken), "conversation");
        }

        var window = options.CurrentValue.AnswerWindowMinutes;
        if (window == 0)
        {
            return (null, null, null);
        }

        var since = clock.GetUtcNow().AddMinutes(-window);
        var waiting = await runs
            .Where(r => r.WorkflowId == workflow.Id && r.ClientKey == caller.ClientKey && r.StartedViaResponses && r.ConversationId == null
                && r.Status == RunStatus.AwaitingInput && r.CreatedAt >= since)
            .OrderByDescending(r => r.Id).FirstOrDefaultAsync(cancellationToken);
        return waiting is null ? (null, null, null) : (waiting, "client", null);

        // A message answers a run that asks, of the workflow it names, or follows one that ended: never one still queued
        // or running.
        async Task<(RunEntity?, string?, RunCommandResult?)> FollowAsync(RunEntity? run, string via)
        {
            if (run is { Status: RunStatus.Queued or RunStatus.Running })
            {
                return (null, null, new RunCommandResult.Conflict(run.Status, "The run this message follows is still running; send the next message when it ends or asks."));
            }

            if (run is not { Status: RunStatus.AwaitingInput } || run.WorkflowId == workflow.Id)
            {
                return (run, via, null);
            }

            var asking = await db.Workflows.Where(w => w.Id == run.WorkflowId).Select(w => w.Name).FirstAsync(cancellationToken);
            return (null, null, new RunCommandResult.Invalid(new Dictionary<string, string[]> { ["model"] = [$"The run awaiting this answer is of the workflow '{asking}': give that as model."] }));
        }
    }

    /// <summary>The response <paramref name="id"/> (<c>resp_…</c> or a run id) names, described by its workflow's name; null when there is none.</summary>
    public async Task<ResponseTarget?> ResponseAsync(string id, CancellationToken cancellationToken)
    {
        if (!RunResponses.TryParseResponseId(id, out var runId))
        {
            return null;
        }

        var run = await db.Runs.AsNoTracking().Where(r => r.Id == runId)
            .Select(r => new { r.CreatedAt, Workflow = db.Workflows.Where(w => w.Id == r.WorkflowId).Select(w => w.Name).First() })
            .FirstOrDefaultAsync(cancellationToken);
        return run is null ? null : new ResponseTarget(runId, 0, run.Workflow, run.CreatedAt);
    }

    /// <summary>
    /// The stream of the earlier call with this Idempotency-Key (the run it started, or the answer it gave); a 422 when
    /// that call had another body; null when the key is new.
    /// </summary>
    public async Task<(ResponseTarget?, RunCommandResult?)?> ReplayAsync(WorkflowRef workflow, string key, string requestHash, CancellationToken cancellationToken)
    {
        var started = await db.Runs.AsNoTracking().Where(r => r.WorkflowId == workflow.Id && r.IdempotencyKey == key)
            .Select(r => new { r.Id, r.RequestHash }).FirstOrDefaultAsync(cancellationToken);
        if (started is not null)
        {
            return started.RequestHash == requestHash ? (await TargetAsync(started.Id, 0, workflow, cancellationToken) with { Retried = true }, null) : (null, KeyReused(key));
        }

        var detail = await db.Database.SqlQuery<string>($"""
            SELECT a.detail::text AS "Value" FROM audit_logs a JOIN runs r ON r.id = a.run_id
            WHERE a.type = {AuditTypes.InputAnswered} AND r.workflow_id = {workflow.Id} AND a.detail ->> 'idempotency_key' = {key}
            ORDER BY a.id LIMIT 1
            """).FirstOrDefaultAsync(cancellationToken);
        if (detail is null)
        {
            return null;
        }

        var answered = JsonSerializer.Deserialize<InputAnswered>(detail, QlawJson.Options)!;
        return answered.RequestHash == requestHash && RunResponses.TryParseResponseId(answered.ResponseId, out var runId)
            ? (await TargetAsync(runId, answered.StreamAfter ?? 0, workflow, cancellationToken) with { Retried = true }, null)
            : (null, KeyReused(key));
    }

    /// <summary>Where a response's stream starts.</summary>
    public async Task<ResponseTarget> TargetAsync(Guid runId, long after, WorkflowRef workflow, CancellationToken cancellationToken) =>
        new(runId, after, workflow.Name, await db.Runs.Where(r => r.Id == runId).Select(r => r.CreatedAt).SingleAsync(cancellationToken));

    /// <summary>
    /// The conversation of a run so far, as the input of a follow-up run: at most <paramref name="room"/> characters, its
    /// most recent part under a line "[earlier conversation cut]" when it is longer.
    /// </summary>
    public async Task<string> TranscriptAsync(Guid runId, string input, int room, CancellationToken cancellationToken)
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

        transcript.Append('\n');
        if (transcript.Length <= room)
        {
            return transcript.ToString();
        }

        if (room <= TranscriptCut.Length)
        {
            return "";
        }

        // Never half of a surrogate pair.
        var start = transcript.Length - (room - TranscriptCut.Length);
        start += char.IsLowSurrogate(transcript[start]) ? 1 : 0;
        return TranscriptCut + transcript.ToString(start, transcript.Length - start);
    }

    // The first line of a follow-up's transcript whose earliest part was left out to fit the run's input.
    private const string TranscriptCut = "[earlier conversation cut]\n";

    private static RunCommandResult.KeyReused KeyReused(string key) => RunCommandResult.KeyReused.Of(key);
}
