using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Qlaw.Contracts;
using Qlaw.Core.Configuration;
using Qlaw.Core.Orchestration;
using Qlaw.Core.RunStore;
using Qlaw.Data;
using Qlaw.Data.Runs;

namespace Qlaw.Core.Signals;

/// <summary>What an outbox signal asks of the hub.</summary>
public sealed record RunSignal(
    string InstanceId, RunOrchestrationInput? Schedule = null, ContinueSignal? Continue = null, int StepOffset = 0, string? Reason = null)
{
    public const string ScheduleKind = "schedule";
    public const string ContinueKind = "continue";
    public const string TerminateKind = "terminate";
}

/// <summary>
/// The outbox of run signals: <see cref="Enqueue"/> adds a signal to the run's write (committed with the run
/// change); <see cref="DispatchAsync"/> delivers it right after the commit; <see cref="DeliverPendingAsync"/> (run by <c>RecoveryWorker</c>) delivers
/// whatever a crash left behind. Delivery takes the row lock, so a signal is delivered by one process at a time.
/// </summary>
public sealed class RunSignals(IServiceScopeFactory scopes, IOptionsMonitor<RecoveryOptions> recovery, TimeProvider clock)
{
    /// <summary>
    /// Stages a signal of the write's run, or of <paramref name="of"/> (a fork written under its source's lock), in
    /// <paramref name="write"/>; its id is known once the write ran.
    /// </summary>
    public static RunSignalEntity Enqueue(RunLogWrite write, string kind, RunSignal signal, Guid? of = null)
    {
        var row = new RunSignalEntity { RunId = of ?? write.RunId, Kind = kind, Payload = JsonSerializer.Serialize(signal, QlawJson.Options), CreatedAt = write.Now };
        write.Insert(row, id => row.Id = id);
        return row;
    }

    /// <summary>
    /// Asks the hub to start a run whose rows (with this signal's) are being committed by the caller, beside that commit;
    /// returns why it failed, or null. The caller holds the run's lock (<see cref="RunStore.RunLog"/>) until it commits, and
    /// the run's first turn takes that lock before it reads the run: the turn finds the run committed, or no run (the
    /// commit failed) and stops. Once committed, the caller records the outcome with <see cref="RecordAsync"/>; a signal
    /// left unrecorded is delivered again by <see cref="DeliverPendingAsync"/>, harmlessly (scheduling is idempotent).
    /// </summary>
    public async Task<string?> ScheduleBesideCommitAsync(RunSignal signal, CancellationToken cancellationToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<IRunScheduler>().ScheduleAsync(signal.InstanceId, signal.Schedule!, cancellationToken, fresh: true);
            return null;
        }
        catch (Exception exception)
        {
            return ErrorText(exception);
        }
    }

    /// <summary>Records the delivery of a committed signal by the request that wrote it (<paramref name="error"/>: why it failed).</summary>
    public async Task RecordAsync(QlawDbContext db, long signalId, string? error, CancellationToken cancellationToken)
    {
        var pending = db.RunSignals.Where(s => s.Id == signalId && s.DispatchedAt == null);
        var now = clock.GetUtcNow();
        _ = error is null
            ? await pending.ExecuteUpdateAsync(s => s.SetProperty(r => r.DispatchedAt, now).SetProperty(r => r.LastError, (string?)null).SetProperty(r => r.Attempts, r => r.Attempts + 1), cancellationToken)
            : await pending.ExecuteUpdateAsync(s => s.SetProperty(r => r.LastError, error).SetProperty(r => r.Attempts, r => r.Attempts + 1), cancellationToken);
    }

    /// <summary>Delivers one signal unless another process holds it or delivered it already. False when it failed.</summary>
    public async Task<bool> DispatchAsync(long signalId, CancellationToken cancellationToken) =>
        await DeliverOnceAsync(signalId, cancellationToken) is not Delivery.Failed;

    private async Task<Delivery> DeliverOnceAsync(long signalId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<QlawDbContext>();
        db.Database.AutoSavepointsEnabled = false;
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var row = await db.RunSignals
            .FromSql($"SELECT * FROM run_signals WHERE id = {signalId} AND dispatched_at IS NULL FOR UPDATE SKIP LOCKED")
            .FirstOrDefaultAsync(cancellationToken);
        if (row is null)
        {
            // Delivered already, or being delivered by another process (or by the request that wrote it).
            return Delivery.Skipped;
        }

        try
        {
            await DeliverAsync(scope.ServiceProvider, row, cancellationToken);
            recovery.CurrentValue.CrashIf(RecoveryOptions.SignalRaised);
            row.DispatchedAt = clock.GetUtcNow();
            row.LastError = null;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            row.LastError = ErrorText(exception);
        }

        row.Attempts++;
        await db.SaveChangesAsync(CancellationToken.None);
        await tx.CommitAsync(CancellationToken.None);
        return row.DispatchedAt is not null ? Delivery.Delivered : Delivery.Failed;
    }

    /// <summary>
    /// Delivers the signals a crash or a refusing hub left undelivered, oldest first (those younger than a second are
    /// being delivered by the request that wrote them). Returns how many were delivered.
    /// </summary>
    public async Task<int> DeliverPendingAsync(CancellationToken cancellationToken)
    {
        List<long> pending;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var cutoff = clock.GetUtcNow() - TimeSpan.FromSeconds(1);
            pending = await scope.ServiceProvider.GetRequiredService<QlawDbContext>().RunSignals
                .Where(s => s.DispatchedAt == null && s.CreatedAt < cutoff)
                .OrderBy(s => s.Id).Select(s => s.Id).Take(100).ToListAsync(cancellationToken);
        }

        var delivered = 0;
        foreach (var id in pending)
        {
            delivered += await DeliverOnceAsync(id, cancellationToken) is Delivery.Delivered ? 1 : 0;
        }

        return delivered;
    }

    // Operators read it in run_signals; clients never see it.
    private static string ErrorText(Exception exception) => exception.Message.Length > 2000 ? exception.Message[..2000] : exception.Message;

    private async Task DeliverAsync(IServiceProvider services, RunSignalEntity row, CancellationToken cancellationToken)
    {
        var signal = JsonSerializer.Deserialize<RunSignal>(row.Payload, QlawJson.Options)!;
        var scheduler = services.GetRequiredService<IRunScheduler>();
        switch (row.Kind)
        {
            case RunSignal.ScheduleKind:
                await scheduler.ScheduleAsync(signal.InstanceId, signal.Schedule!, cancellationToken);
                break;
            case RunSignal.TerminateKind:
                await scheduler.TerminateAsync(signal.InstanceId, signal.Reason ?? "cancelled", cancellationToken);
                break;
            case RunSignal.ContinueKind:
                // A waiting orchestration takes the event; a lost one is seeded again from PostgreSQL.
                if (await scheduler.GetStateAsync(signal.InstanceId, cancellationToken) is InstanceState.Running or InstanceState.Pending)
                {
                    // The row id travels with the event: raised again after a crash, the orchestrator applies it once.
                    await scheduler.RaiseContinueAsync(signal.InstanceId, signal.Continue! with { Id = row.Id }, cancellationToken);
                }
                else
                {
                    // Under the run's lock, in a unit of work of its own: this one holds the signal's row.
                    await using var scope = scopes.CreateAsyncScope();
                    await using var write = await scope.ServiceProvider.GetRequiredService<RunLog>().OpenAsync(row.RunId, cancellationToken);
                    await scope.ServiceProvider.GetRequiredService<RunRedriver>().ReseedAsync(write, signal.StepOffset, signal.Continue?.Input, cancellationToken);
                    await write.CommitAsync(cancellationToken);
                }

                break;
            default:
                throw new InvalidOperationException($"Unknown run signal kind '{row.Kind}'.");
        }
    }

    private enum Delivery
    {
        Delivered,
        Skipped,
        Failed,
    }
}
