using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Qlaw.Core.Retention;

/// <summary>Runs <see cref="RunRetention"/> every <see cref="RetentionOptions.IntervalSeconds"/> while <c>Retention:Days</c> is set.</summary>
public sealed partial class RetentionWorker(IServiceScopeFactory scopes, IOptionsMonitor<RetentionOptions> options, ILogger<RetentionWorker> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<RunRetention>().PurgeOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogPassFailed(logger, ex);
            }

            await Task.Delay(TimeSpan.FromSeconds(options.CurrentValue.IntervalSeconds), stoppingToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A retention pass failed; the next pass tries again")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);
}
