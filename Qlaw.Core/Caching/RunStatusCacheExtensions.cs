using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Qlaw.Core.Configuration;

namespace Qlaw.Core.Caching;

/// <summary>Wiring of the run status cache.</summary>
public static class RunStatusCacheExtensions
{
    /// <summary>
    /// Adds the run status cache: Redis when <c>ConnectionStrings:Redis</c> is set (options in section <c>Redis</c>),
    /// otherwise none, and every snapshot comes from PostgreSQL.
    /// </summary>
    public static IHostApplicationBuilder AddQlawRunStatusCache(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddQlawOptions<RedisOptions>("Redis", SettingReload.Restart);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisOptions>, RedisConnectionStringValidator>());
        services.TryAddSingleton<RedisConnection>();
        services.TryAddSingleton<IRunStatusCache>(sp =>
            sp.GetRequiredService<RedisConnection>().Configured
                ? ActivatorUtilities.CreateInstance<RedisRunStatusCache>(sp)
                : new NoRunStatusCache());
        return builder;
    }
}
