using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Qlaw.Contracts;
using Qlaw.Contracts.Runs;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Validation;
using Qlaw.Data;
using Qlaw.Data.Runs;
using Qlaw.Data.Workflows;

namespace Qlaw.Core.Workflows;

/// <summary>Creates, finds and lists workflows and their runs.</summary>
public sealed class WorkflowCatalog(QlawDbContext db, WorkflowRules rules, TimeProvider clock)
{
    /// <summary>Validates a workflow definition, checks it against the server's rules and stores it.</summary>
    public async Task<CreateWorkflowResult> CreateAsync(WorkflowDefinition definition, CancellationToken cancellationToken)
    {
        var errors = ContractValidator.Validate(definition);
        if (errors.Count == 0)
        {
            errors = rules.Check(definition);
        }

        if (errors.Count > 0)
        {
            return new CreateWorkflowResult.Invalid(errors);
        }

        if (await db.Workflows.AnyAsync(w => w.Name == definition.Name, cancellationToken))
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

    /// <summary>Finds a workflow by id, or by its unique name when <paramref name="idOrName"/> is not a GUID.</summary>
    public async Task<WorkflowResponse?> FindAsync(string idOrName, CancellationToken cancellationToken)
    {
        var entity = await FindEntity(idOrName).AsNoTracking().FirstOrDefaultAsync(cancellationToken);
        return entity is null ? null : ToResponse(entity);
    }

    /// <summary>Lists workflows in creation order, one keyset page at a time.</summary>
    public async Task<ListPage<WorkflowResponse>> ListAsync(PageRequest page, CancellationToken cancellationToken)
    {
        var query = db.Workflows.AsNoTracking();
        if (page.After is { } after)
        {
            query = query.Where(w => w.Id > after);
        }

        var rows = await query.OrderBy(w => w.Id).Take(page.Limit + 1).ToListAsync(cancellationToken);
        return page.ToPage(rows.Select(ToResponse).ToList(), w => w.Id);
    }

    /// <summary>Lists a workflow's runs in creation order; null when the workflow does not exist.</summary>
    public async Task<ListPage<RunSummary>?> ListRunsAsync(string idOrName, PageRequest page, CancellationToken cancellationToken)
    {
        var workflowId = await FindEntity(idOrName).Select(w => (Guid?)w.Id).FirstOrDefaultAsync(cancellationToken);
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

    private IQueryable<WorkflowEntity> FindEntity(string idOrName) =>
        Guid.TryParse(idOrName, out var id)
            ? db.Workflows.Where(w => w.Id == id)
            : db.Workflows.Where(w => w.Name == idOrName);

    private static WorkflowResponse ToResponse(WorkflowEntity entity) =>
        new(entity.Id, entity.Name, Parse(entity.Config), entity.CreatedAt);

    internal static RunSummary ToSummary(RunEntity run) =>
        new(run.Id, run.WorkflowId, run.Status, run.CreatedAt, run.StartedAt, run.CompletedAt, run.CurrentStep, run.CurrentAgent, run.LastError, run.ForkedFrom, run.FromStep);
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
}
