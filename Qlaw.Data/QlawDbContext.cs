using Microsoft.EntityFrameworkCore;
using Qlaw.Data.Audit;
using Qlaw.Data.Runs;
using Qlaw.Data.Workflows;

namespace Qlaw.Data;

/// <summary>Qlaw's system of record on PostgreSQL.</summary>
/// <remarks>
/// Add a migration with
/// <c>dotnet ef migrations add &lt;Name&gt; --project Qlaw.Data --output-dir Migrations</c>
/// (the design-time factory needs no running server). Apply with <c>dotnet Qlaw.Server.dll migrate</c>.
/// </remarks>
public sealed class QlawDbContext(DbContextOptions<QlawDbContext> options) : DbContext(options)
{
    public DbSet<WorkflowEntity> Workflows => Set<WorkflowEntity>();

    public DbSet<RunEntity> Runs => Set<RunEntity>();

    public DbSet<StepEntity> Steps => Set<StepEntity>();

    public DbSet<HandoffEntity> Handoffs => Set<HandoffEntity>();

    public DbSet<ToolCallEntity> ToolCalls => Set<ToolCallEntity>();

    public DbSet<AuditLogEntity> AuditLogs => Set<AuditLogEntity>();

    public DbSet<RunEventEntity> RunEvents => Set<RunEventEntity>();

    public DbSet<RunSignalEntity> RunSignals => Set<RunSignalEntity>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(QlawDbContext).Assembly);
}
