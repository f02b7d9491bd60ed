using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Qlaw.Contracts;
using Qlaw.Data.Workflows;

namespace Qlaw.Data.Runs;

internal sealed class RunConfiguration : IEntityTypeConfiguration<RunEntity>
{
    public void Configure(EntityTypeBuilder<RunEntity> builder)
    {
        builder.ToTable("runs");
        builder.HasKey(r => r.Id);
        builder.Property(r => r.Id).ValueGeneratedNever();
        builder.HasOne<WorkflowEntity>().WithMany().HasForeignKey(r => r.WorkflowId).OnDelete(DeleteBehavior.Restrict);
        builder.Property(r => r.Status).HasConversion<EnumTextConverter<RunStatus>>().HasMaxLength(20);
        builder.Property(r => r.Metadata).HasColumnType("jsonb");
        builder.Property(r => r.OriginStack).HasColumnType("jsonb");
        builder.Property(r => r.ReturnCounts).HasColumnType("jsonb");
        builder.Property(r => r.Chain).HasColumnType("jsonb").HasDefaultValueSql("'[]'::jsonb");
        builder.Property(r => r.LastErrorCode).HasMaxLength(40);
        builder.Property(r => r.IdempotencyKey).HasMaxLength(200);
        builder.Property(r => r.CurrentAgent).HasMaxLength(32);
        builder.Property(r => r.EntityId).HasMaxLength(100);
        builder.Property(r => r.Client).HasMaxLength(64);
        builder.Property(r => r.RequestHash).HasMaxLength(64);
        builder.Property(r => r.ConversationId).HasMaxLength(100);
        builder.Property(r => r.ClientKey).HasMaxLength(64);
        builder.Property(r => r.DefinitionHash).HasMaxLength(64);
        builder.HasOne<RunEntity>().WithMany().HasForeignKey(r => r.ForkedFrom).OnDelete(DeleteBehavior.SetNull);

        // GET /v1/workflows/{id}/runs pages by id within a workflow.
        builder.HasIndex(r => new { r.WorkflowId, r.Id });
        // A repeated start with the same Idempotency-Key finds the run it created.
        builder.HasIndex(r => new { r.WorkflowId, r.IdempotencyKey }).IsUnique().HasFilter("idempotency_key IS NOT NULL");
        // Operators and the reconciler look runs up by status.
        builder.HasIndex(r => new { r.Status, r.UpdatedAt });
        builder.HasIndex(r => r.EntityId).IsUnique().HasFilter("entity_id IS NOT NULL");
        // Run creation counts a client's active runs (Limits:MaxActiveRunsPerClient).
        builder.HasIndex(r => new { r.Client, r.Status }).HasFilter("client IS NOT NULL");
        // /v1/responses finds a conversation's latest run, and a client's latest run awaiting input.
        builder.HasIndex(r => new { r.ConversationId, r.Id }).HasFilter("conversation_id IS NOT NULL");
        builder.HasIndex(r => new { r.WorkflowId, r.ClientKey, r.Id }).HasFilter("client_key IS NOT NULL");
    }
}

internal sealed class StepConfiguration : IEntityTypeConfiguration<StepEntity>
{
    public void Configure(EntityTypeBuilder<StepEntity> builder)
    {
        builder.ToTable("steps");
        builder.HasKey(s => s.Id);
        builder.HasOne<RunEntity>().WithMany().HasForeignKey(s => s.RunId).OnDelete(DeleteBehavior.Cascade);
        builder.Property(s => s.Agent).HasMaxLength(32);
        builder.Property(s => s.Status).HasConversion<EnumTextConverter<StepStatus>>().HasMaxLength(20);
        builder.Property(s => s.CheckpointRef).HasMaxLength(200);
        builder.Property(s => s.Decision).HasColumnType("jsonb");
        builder.Property(s => s.RouteState).HasColumnType("jsonb");
        builder.Property(s => s.Waiting).HasColumnType("jsonb");
        builder.Property(s => s.ErrorCode).HasMaxLength(40);
        // The status an attempt's writer read is its concurrency token: completing, failing or superseding an attempt
        // that another writer moved on meanwhile fails instead of overwriting it (heartbeats do not count as a change).
        builder.Property(s => s.Status).IsConcurrencyToken();
        // An activity runs at least once: (run, index, attempt) is the idempotency key of a step row.
        builder.HasIndex(s => new { s.RunId, s.Index, s.Attempt }).IsUnique();
    }
}

internal sealed class HandoffConfiguration : IEntityTypeConfiguration<HandoffEntity>
{
    public void Configure(EntityTypeBuilder<HandoffEntity> builder)
    {
        builder.ToTable("handoffs");
        builder.HasKey(h => h.Id);
        builder.HasOne<RunEntity>().WithMany().HasForeignKey(h => h.RunId).OnDelete(DeleteBehavior.Cascade);
        builder.Property(h => h.FromAgent).HasMaxLength(32);
        builder.Property(h => h.ToAgent).HasMaxLength(32);
        builder.Property(h => h.Reason).HasMaxLength(2000);
        builder.HasIndex(h => new { h.RunId, h.Id });
    }
}

internal sealed class ToolCallConfiguration : IEntityTypeConfiguration<ToolCallEntity>
{
    public void Configure(EntityTypeBuilder<ToolCallEntity> builder)
    {
        builder.ToTable("tool_calls");
        builder.HasKey(c => c.Id);
        builder.HasOne<RunEntity>().WithMany().HasForeignKey(c => c.RunId).OnDelete(DeleteBehavior.Cascade);
        builder.Property(c => c.Agent).HasMaxLength(32);
        builder.Property(c => c.CallId).HasMaxLength(200);
        builder.Property(c => c.Tool).HasMaxLength(200);
        builder.Property(c => c.Arguments).HasColumnType("jsonb");
        builder.Property(c => c.Status).HasConversion<EnumTextConverter<ToolCallStatus>>().HasMaxLength(20);
        builder.Property(c => c.DecisionReason).HasMaxLength(2000);
        // A turn replays the calls of its step (and of the step that paused for a decision), in the order they were made.
        builder.HasIndex(c => new { c.RunId, c.StepIndex, c.Id });
    }
}

internal sealed class RunEventConfiguration : IEntityTypeConfiguration<RunEventEntity>
{
    public void Configure(EntityTypeBuilder<RunEventEntity> builder)
    {
        builder.ToTable("run_events");
        builder.HasKey(e => e.Id);
        builder.HasOne<RunEntity>().WithMany().HasForeignKey(e => e.RunId).OnDelete(DeleteBehavior.Cascade);
        builder.Property(e => e.Type).HasMaxLength(64);
        builder.Property(e => e.Data).HasColumnType("jsonb");
        // Streams replay a run's events after a given id.
        builder.HasIndex(e => new { e.RunId, e.Id });
    }
}

internal sealed class RunSignalConfiguration : IEntityTypeConfiguration<RunSignalEntity>
{
    public void Configure(EntityTypeBuilder<RunSignalEntity> builder)
    {
        builder.ToTable("run_signals");
        builder.HasKey(s => s.Id);
        builder.Property(s => s.Kind).HasMaxLength(20);
        builder.Property(s => s.Payload).HasColumnType("jsonb");
        builder.Property(s => s.LastError).HasMaxLength(2000);
        builder.HasOne<RunEntity>().WithMany().HasForeignKey(s => s.RunId).OnDelete(DeleteBehavior.Cascade);

        // The dispatcher's query: undelivered signals in order.
        builder.HasIndex(s => s.Id).HasDatabaseName("ix_run_signals_pending").HasFilter("dispatched_at IS NULL");
        builder.HasIndex(s => new { s.RunId, s.Id });
    }
}
