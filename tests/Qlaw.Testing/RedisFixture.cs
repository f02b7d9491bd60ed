using Qlaw.AppHost.LocalStack;

namespace Qlaw.Testing;

/// <summary>A throwaway Redis on a free port, started once per test class and stopped afterwards.</summary>
public sealed class RedisFixture : IAsyncLifetime
{
    private LocalRedis? _redis;

    public LocalRedis Redis => _redis ?? throw new InvalidOperationException("Redis has not started.");

    public async Task InitializeAsync() => _redis = await LocalRedis.StartAsync(Network.FreePort(), echo: false);

    public async Task DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }
}
