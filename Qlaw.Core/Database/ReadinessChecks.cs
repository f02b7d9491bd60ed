using System.Collections.Concurrent;
using Azure.Storage.Queues;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Qlaw.Data;

namespace Qlaw.Core.Database;

/// <summary>Ready when PostgreSQL answers and the schema is up to date.</summary>
internal sealed class PostgresReadinessCheck(IServiceScopeFactory scopes, ReadinessResults results) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        results.GetAsync("postgres", async () =>
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var pending = await scope.ServiceProvider.GetRequiredService<QlawDbContext>().Database.GetPendingMigrationsAsync();
                return pending.Any()
                    ? HealthCheckResult.Unhealthy("Database migrations are pending.")
                    : HealthCheckResult.Healthy();
            }
            catch (Exception)
            {
                return HealthCheckResult.Unhealthy("PostgreSQL is unreachable.");
            }
        });
}

/// <summary>
/// Ready when the Durable Task hub's storage account answers. It lists one queue: an operation the app's identity
/// is granted by <c>Storage Queue Data Contributor</c> (<c>queueServices/queues/read</c>), unlike reading the queue
/// service's properties, which needs a management role.
/// </summary>
internal sealed class DurableStorageReadinessCheck(QueueServiceClient queues, ReadinessResults results) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        results.GetAsync("durable-storage", async () =>
        {
            try
            {
                await foreach (var _ in queues.GetQueuesAsync().AsPages(pageSizeHint: 1))
                {
                    break;
                }

                return HealthCheckResult.Healthy();
            }
            catch (Exception)
            {
                return HealthCheckResult.Unhealthy("Durable storage is unreachable.");
            }
        });
}

/// <summary>
/// The readiness checks' latest results, reused for <see cref="Freshness"/>: however many probes arrive, each check
/// runs at most once in that time, and callers arriving while it runs share its answer.
/// </summary>
internal sealed class ReadinessResults(TimeProvider clock)
{
    /// <summary>How long a result answers probes.</summary>
    public static readonly TimeSpan Freshness = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, (long At, Task<HealthCheckResult> Result)> _latest = new(StringComparer.Ordinal);

    public Task<HealthCheckResult> GetAsync(string check, Func<Task<HealthCheckResult>> run)
    {
        var now = clock.GetTimestamp();
        var entry = _latest.AddOrUpdate(
            check,
            _ => (now, run()),
            (_, latest) => clock.GetElapsedTime(latest.At, now) < Freshness ? latest : (now, run()));
        return entry.Result;
    }
}
