using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Qlaw.Data.Workflows;

internal sealed class WorkflowConfiguration : IEntityTypeConfiguration<WorkflowEntity>
{
    public void Configure(EntityTypeBuilder<WorkflowEntity> builder)
    {
        builder.ToTable("workflows");
        builder.HasKey(w => w.Id);
        builder.Property(w => w.Id).ValueGeneratedNever();
        builder.Property(w => w.Name).HasMaxLength(100);
        // Names are unique among workflows that exist; a deleted one's name can be taken again.
        builder.HasIndex(w => w.Name).IsUnique().HasFilter("deleted_at IS NULL");
        builder.Property(w => w.Config).HasColumnType("jsonb");
    }
}
