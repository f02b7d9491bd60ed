using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Qlaw.Core.Configuration;
using Qlaw.Core.Signals;

namespace Qlaw.Core.Operations;

/// <summary>
/// Self-healing in a long-running host (Qlaw.Server): delivers left-over outbox signals every
/// <see cref="RecoveryOptions.DispatchIntervalMs"/> (any number of processes; row locks keep each signal to one), and
/// runs the reconciler every <see cref="RecoveryOptions.ReconcileIntervalSeconds"/> in the one process that holds its
/// advisory lock. Qlaw.Functions runs the same passes from a timer trigger.
/// </summary>
public sealed partial class RecoveryWorker(
    RunSignals signals, RunReconciler reconciler, NpgsqlDataSource dataSource, IOptionsMonitor<RecoveryOptions> options, ILogger<RecoveryWorker> logger)
    : BackgroundService
{
    // pg_advisory_lock key of the reconciler ("qlaw-rec").
    private const long LockKey = 0x716c61772d726563;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(DispatchLoopAsync(stoppingToken), ReconcileLoopAsync(stoppingToken));

    private async Task DispatchLoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(options.CurrentValue.DispatchIntervalMs, stoppingToken);
                if (await signals.DeliverPendingAsync(stoppingToken) is > 0 and var delivered)
                {
                    LogDelivered(logger, delivered);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                // PostgreSQL or the hub is away; the next pass tries again. Never let the worker die.
                LogPassFailed(logger, "Signal dispatch", exception);
            }
        }
    }

    private async Task ReconcileLoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                await using (var take = new NpgsqlCommand($"SELECT pg_try_advisory_lock({LockKey})", connection))
                {
                    if (!(bool)(await take.ExecuteScalarAsync(stoppingToken))!)
                    {
                        await Task.Delay(TimeSpan.FromSeconds(options.CurrentValue.ReconcileIntervalSeconds), stoppingToken);
                        continue;
                    }
                }

                // The leader while this connection, and so its session lock, lives.
                while (!stoppingToken.IsCancellationRequested)
                {
                    await Task.Delay(TimeSpan.FromSeconds(options.CurrentValue.ReconcileIntervalSeconds), stoppingToken);
                    await using (var alive = new NpgsqlCommand("SELECT 1", connection))
                    {
                        await alive.ExecuteScalarAsync(stoppingToken);
                    }

                    await reconciler.ReconcileOnceAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                LogPassFailed(logger, "Reconcile", exception);
                await Task.Delay(TimeSpan.FromSeconds(options.CurrentValue.ReconcileIntervalSeconds), stoppingToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Delivered {Count} run signals left over by earlier attempts")]
    private static partial void LogDelivered(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Pass} pass failed; retrying")]
    private static partial void LogPassFailed(ILogger logger, string pass, Exception exception);
}
