using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Qlaw.Core.Configuration;
using StackExchange.Redis;

namespace Qlaw.Core.Caching;

/// <summary>Wiring of the run status cache.</summary>
public static class RunStatusCacheExtensions
{
    /// <summary>
    /// Adds the run status cache: HybridCache over Redis when <c>ConnectionStrings:Redis</c> is set (options in section
    /// <c>Redis</c>; the process's one connection), otherwise none, and every snapshot comes from PostgreSQL.
    /// </summary>
    public static IHostApplicationBuilder AddQlawRunStatusCache(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddQlawOptions<RedisOptions>("Redis");
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisOptions>, RedisConnectionStringValidator>());
        services.TryAddSingleton<RedisConnection>();
        services.AddHybridCache();
        services.AddStackExchangeRedisCache(_ => { });
        services.AddOptions<RedisCacheOptions>().Configure<RedisConnection>((cache, redis) =>
        {
            cache.InstanceName = redis.Options.KeyPrefix;
            cache.ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(redis.Multiplexer);
        });
        services.TryAddSingleton<IRunStatusCache, RunStatusCache>();
        return builder;
    }
}
