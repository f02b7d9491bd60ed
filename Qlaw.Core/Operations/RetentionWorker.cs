using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Qlaw.Core.Operations;

/// <summary>
/// Runs <see cref="RunRetention"/>'s two passes, each on its own cadence: ended runs past
/// <c>Retention:DeleteRunsAfterSeconds</c> every <see cref="RetentionOptions.IntervalSeconds"/>, and the hub history of
/// ended orchestrations every <see cref="RetentionOptions.HubHistoryIntervalSeconds"/>.
/// </summary>
public sealed partial class RetentionWorker(IServiceScopeFactory scopes, IOptionsMonitor<RetentionOptions> options, ILogger<RetentionWorker> logger)
    : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(
            EveryAsync(static (retention, ct) => retention.PurgeOnceAsync(ct), static o => o.IntervalSeconds, "runs", stoppingToken),
            EveryAsync(static (retention, ct) => retention.PurgeHubHistoryOnceAsync(ct), static o => o.HubHistoryIntervalSeconds, "hub history", stoppingToken));

    private async Task EveryAsync(
        Func<RunRetention, CancellationToken, Task<int>> pass, Func<RetentionOptions, int> intervalSeconds, string what, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await pass(scope.ServiceProvider.GetRequiredService<RunRetention>(), stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogPassFailed(logger, what, ex);
            }

            await Task.Delay(TimeSpan.FromSeconds(intervalSeconds(options.CurrentValue)), stoppingToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A retention pass over {What} failed; the next pass tries again")]
    private static partial void LogPassFailed(ILogger logger, string what, Exception exception);
}
