using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using Qlaw.Contracts;
using Qlaw.Contracts.Responses;
using Qlaw.Contracts.Runs;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Agents;
using Qlaw.Core.Limits;
using Qlaw.Core.Paging;
using Qlaw.Core.Tools;
using Qlaw.Core.Validation;
using Qlaw.Data;
using Qlaw.Data.Runs;
using Qlaw.Data.Workflows;

namespace Qlaw.Core.Workflows;

/// <summary>Creates, finds, lists and deletes workflows, and lists their runs; the server's caps on stored workflows.</summary>
public sealed class WorkflowCatalog(QlawDbContext db, WorkflowRules rules, AgentTools tools, IOptionsMonitor<LimitsOptions> limits, TimeProvider clock)
{
    /// <summary>Validates a workflow definition, checks it against the server's rules and stores it.</summary>
    public async Task<CreateWorkflowResult> CreateAsync(WorkflowDefinition definition, CancellationToken cancellationToken)
    {
        var errors = ContractValidator.Validate(definition);
        if (errors.Count == 0)
        {
            errors = rules.Check(definition);
            await tools.CheckAsync(definition, errors, cancellationToken);
        }

        if (errors.Count > 0)
        {
            return new CreateWorkflowResult.Invalid(errors);
        }

        if (await db.Workflows.AnyAsync(w => w.Name == definition.Name && w.DeletedAt == null, cancellationToken))
        {
            return new CreateWorkflowResult.NameTaken(definition.Name);
        }

        var entity = new WorkflowEntity
        {
            Id = TimeOrderedId.New(clock),
            Name = definition.Name,
            Config = JsonSerializer.Serialize(definition, QlawJson.Options),
            CreatedAt = clock.GetUtcNow(),
        };
        if (await FullAsync(entity.Config.Length, cancellationToken) is { } full)
        {
            return full;
        }

        db.Workflows.Add(entity);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // A concurrent create of the same name won the race.
            db.ChangeTracker.Clear();
            return new CreateWorkflowResult.NameTaken(definition.Name);
        }

        return new CreateWorkflowResult.Created(ToResponse(entity));
    }

    // The server's caps on stored workflows (Limits:MaxWorkflows, MaxWorkflowBytes): a refusal, or null.
    private async Task<CreateWorkflowResult.Full?> FullAsync(long size, CancellationToken cancellationToken)
    {
        var stored = await db.Database.SqlQuery<StoredWorkflows>(
            $"SELECT count(*) FILTER (WHERE deleted_at IS NULL)::int AS count, coalesce(sum(octet_length(config::text)), 0)::bigint AS bytes FROM workflows")
            .SingleAsync(cancellationToken);
        var caps = limits.CurrentValue;
        return stored.Count >= caps.MaxWorkflows
            ? new($"The server holds {stored.Count} workflows, the most it keeps (Limits:MaxWorkflows); delete one first.")
            : stored.Bytes + size > caps.MaxWorkflowBytes
                ? new($"Stored workflow definitions would pass {caps.MaxWorkflowBytes} bytes (Limits:MaxWorkflowBytes); delete one first.")
                : null;
    }

    private sealed record StoredWorkflows(int Count, long Bytes);

    /// <summary>
    /// Deletes a workflow: refused while it has an active run (queued, running, awaiting input, or dead-lettered and
    /// not abandoned). Its ended runs stay readable; the row goes when they do (retention), and its name is free at once.
    /// </summary>
    public async Task<DeleteWorkflowResult> DeleteAsync(string idOrName, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var found = await Named(db, idOrName).Select(w => (Guid?)w.Id).FirstOrDefaultAsync(cancellationToken);
        if (found is not { } id)
        {
            return new DeleteWorkflowResult.NotFound();
        }

        // Under the row's lock: a run that starts meanwhile finds the workflow deleted, or this finds its run.
        await db.Database.ExecuteSqlAsync($"SELECT 1 FROM workflows WHERE id = {id} FOR UPDATE", cancellationToken);
        var runs = await db.Runs.Where(r => r.WorkflowId == id).GroupBy(_ => 1).Select(g => new
        {
            All = g.Count(),
            Active = g.Count(r => r.Status == RunStatus.Queued || r.Status == RunStatus.Running || r.Status == RunStatus.AwaitingInput
                || (r.Status == RunStatus.Failed && r.CompletedAt == null)),
        }).FirstOrDefaultAsync(cancellationToken);
        if (runs is { Active: > 0 })
        {
            return new DeleteWorkflowResult.Busy(runs.Active);
        }

        if (runs is { All: > 0 })
        {
            await db.Workflows.Where(w => w.Id == id).ExecuteUpdateAsync(u => u.SetProperty(w => w.DeletedAt, clock.GetUtcNow()), cancellationToken);
        }
        else
        {
            await db.Workflows.Where(w => w.Id == id).ExecuteDeleteAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return new DeleteWorkflowResult.Deleted();
    }

    /// <summary>Finds a workflow by id, or by its unique name when <paramref name="idOrName"/> is not a GUID.</summary>
    public async Task<WorkflowResponse?> FindAsync(string idOrName, CancellationToken cancellationToken)
    {
        var entity = await Named(db, idOrName).AsNoTracking().FirstOrDefaultAsync(cancellationToken);
        return entity is null ? null : ToResponse(entity);
    }

    /// <summary>Lists workflows in creation order, one keyset page at a time (bounded in bytes too).</summary>
    public async Task<ListPage<WorkflowResponse>> ListAsync(PageRequest page, CancellationToken cancellationToken)
    {
        var query = db.Workflows.AsNoTracking().Where(w => w.DeletedAt == null);
        if (page.After is { } after)
        {
            query = query.Where(w => w.Id > after);
        }

        var rows = await query.OrderBy(w => w.Id).Take(page.Limit + 1).ToListAsync(cancellationToken);
        var kept = page.ToPage(rows, w => w.Id, w => w.Config.Length);
        return new(kept.Data.Select(ToResponse).ToList(), kept.HasMore, kept.LastId);
    }

    /// <summary>Lists a workflow's runs in creation order; null when the workflow does not exist.</summary>
    public async Task<ListPage<RunSummary>?> ListRunsAsync(string idOrName, PageRequest page, CancellationToken cancellationToken)
    {
        var workflowId = await Named(db, idOrName).Select(w => (Guid?)w.Id).FirstOrDefaultAsync(cancellationToken);
        if (workflowId is null)
        {
            return null;
        }

        var query = db.Runs.AsNoTracking().Where(r => r.WorkflowId == workflowId);
        if (page.After is { } after)
        {
            query = query.Where(r => r.Id > after);
        }

        var rows = await query.OrderBy(r => r.Id).Take(page.Limit + 1).ToListAsync(cancellationToken);
        return page.ToPage(rows.Select(ToSummary).ToList(), r => r.Id);
    }

    /// <summary>The stored definition of workflow <paramref name="workflowId"/>, which must exist (a run's workflow).</summary>
    public static async Task<WorkflowDefinition> DefinitionOfAsync(QlawDbContext db, Guid workflowId, CancellationToken cancellationToken) =>
        Parse(await db.Workflows.Where(w => w.Id == workflowId).Select(w => w.Config).SingleAsync(cancellationToken));

    /// <summary>A workflow's definition as stored (<c>workflows.config</c>).</summary>
    public static WorkflowDefinition Parse(string config) => JsonSerializer.Deserialize<WorkflowDefinition>(config, QlawJson.Options)!;

    /// <summary>SHA-256 (hex) of a stored definition: a run keeps it, so that a fork can tell the definition changed since.</summary>
    public static string HashOf(WorkflowEntity workflow) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(workflow.Config)));

    /// <summary>The workflow (not deleted) with the id <paramref name="idOrName"/>, or with that unique name when it is not a GUID.</summary>
    public static IQueryable<WorkflowEntity> Named(QlawDbContext db, string idOrName) =>
        Guid.TryParse(idOrName, out var id)
            ? db.Workflows.Where(w => w.Id == id && w.DeletedAt == null)
            : db.Workflows.Where(w => w.Name == idOrName && w.DeletedAt == null);

    private static WorkflowResponse ToResponse(WorkflowEntity entity) =>
        new(entity.Id, entity.Name, Parse(entity.Config), entity.CreatedAt);

    internal static RunSummary ToSummary(RunEntity run) =>
        new(run.Id, run.WorkflowId, run.Status, run.CreatedAt, run.StartedAt, run.CompletedAt, run.CurrentStep, run.CurrentAgent, run.LastError, run.ForkedFrom, run.FromStep);

    /// <summary>
    /// The agents of one keyset page of stored workflows, in creation order: <see cref="PageRequest.Limit"/> counts
    /// workflows (each has at most <see cref="WorkflowDefinition.MaxAgents"/> agents) and the cursor is a workflow id.
    /// </summary>
    public async Task<ListPage<AgentInfo>> ListAgentsAsync(PageRequest page, CancellationToken cancellationToken)
    {
        var query = db.Workflows.AsNoTracking().Where(w => w.DeletedAt == null);
        if (page.After is { } after)
        {
            query = query.Where(w => w.Id > after);
        }

        var rows = await query.OrderBy(w => w.Id).Take(page.Limit + 1).Select(w => new { w.Id, w.Config }).ToListAsync(cancellationToken);
        var workflows = page.ToPage(rows, w => w.Id, w => w.Config.Length);
        return new ListPage<AgentInfo>(
            [.. workflows.Data
                .Select(row => Parse(row.Config))
                .SelectMany(w => w.Agents.Select(a => new AgentInfo(
                    $"{w.Name}.{a.Name}",
                    a.Name,
                    a.Instructions ?? RoleInstructions.For(a.Role!.Value),
                    ChatClientProvider.Resolve(w, a) is { Provider: ModelProvider.Openai } model ? model.Model : "scripted")))],
            workflows.HasMore,
            workflows.LastId);
    }
}

/// <summary>Outcome of <see cref="WorkflowCatalog.CreateAsync"/>.</summary>
public abstract record CreateWorkflowResult
{
    private CreateWorkflowResult()
    {
    }

    public sealed record Created(WorkflowResponse Workflow) : CreateWorkflowResult;

    public sealed record Invalid(IDictionary<string, string[]> Errors) : CreateWorkflowResult;

    public sealed record NameTaken(string Name) : CreateWorkflowResult;

    /// <summary>The server holds as many workflows, or bytes of them, as it keeps.</summary>
    public sealed record Full(string Reason) : CreateWorkflowResult;
}

/// <summary>Outcome of <see cref="WorkflowCatalog.DeleteAsync"/>.</summary>
public abstract record DeleteWorkflowResult
{
    private DeleteWorkflowResult()
    {
    }

    public sealed record Deleted : DeleteWorkflowResult;

    public sealed record NotFound : DeleteWorkflowResult;

    /// <summary>The workflow has <paramref name="ActiveRuns"/> runs that have not ended.</summary>
    public sealed record Busy(int ActiveRuns) : DeleteWorkflowResult;
}
