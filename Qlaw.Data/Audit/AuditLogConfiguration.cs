using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Qlaw.Data.Runs;

namespace Qlaw.Data.Audit;

internal sealed class AuditLogConfiguration : IEntityTypeConfiguration<AuditLogEntity>
{
    public void Configure(EntityTypeBuilder<AuditLogEntity> builder)
    {
        builder.ToTable("audit_logs");
        builder.HasKey(a => a.Id);
        builder.HasOne<RunEntity>().WithMany().HasForeignKey(a => a.RunId).OnDelete(DeleteBehavior.Cascade);
        builder.Property(a => a.Type).HasMaxLength(64);
        builder.Property(a => a.Detail).HasColumnType("jsonb");
        // GET /v1/runs/{id}/audit pages a run's entries in order.
        builder.HasIndex(a => new { a.RunId, a.Id });
    }
}
