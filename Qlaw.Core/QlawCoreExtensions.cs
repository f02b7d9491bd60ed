using System.Data.Common;
using Azure.Storage.Queues;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Qlaw.Core.Agents;
using Qlaw.Core.Caching;
using Qlaw.Core.Configuration;
using Qlaw.Core.Database;
using Qlaw.Core.Limits;
using Qlaw.Core.Operations;
using Qlaw.Core.Orchestration;
using Qlaw.Core.Responses;
using Qlaw.Core.Runs;
using Qlaw.Core.RunStore;
using Qlaw.Core.Signals;
using Qlaw.Core.Streaming;
using Qlaw.Core.Telemetry;
using Qlaw.Core.Tools;
using Qlaw.Core.Turns;
using Qlaw.Core.Workflows;
using Qlaw.Data;
using StackExchange.Redis;

namespace Qlaw.Core;

/// <summary>Wiring every host needs: options, the database, the application services.</summary>
public static class QlawCoreExtensions
{
    /// <summary>Tag of the health checks that say whether the service can take work.</summary>
    public const string ReadyTag = "ready";

    /// <summary>Adds Qlaw's configuration layers and application services.</summary>
    public static IHostApplicationBuilder AddQlawCore(this IHostApplicationBuilder builder)
    {
        builder.AddQlawConfiguration();
        builder.AddQlawTelemetry();
        var services = builder.Services;
        services.AddQlawOptions<QlawConnectionStrings>("ConnectionStrings", allowUnknownKeys: true);
        services.AddQlawOptions<DatabaseOptions>("Database");
        services.TryAddSingleton(TimeProvider.System);

        // One pooled data source per process; EF Core and, later, LISTEN/NOTIFY share it.
        services.TryAddSingleton(sp => CreateDataSource(
            sp.GetRequiredService<IOptions<QlawConnectionStrings>>().Value.Postgres!, source => source.UseLoggerFactory(sp.GetService<ILoggerFactory>())));
        services.AddDbContextPool<QlawDbContext>((sp, options) =>
            options.UseQlawPostgres(sp.GetRequiredService<NpgsqlDataSource>()));

        services.TryAddSingleton(sp => new QueueServiceClient(
            sp.GetRequiredService<IOptions<QlawConnectionStrings>>().Value.DurableStorage,
            new QueueClientOptions { Retry = { MaxRetries = 0, NetworkTimeout = TimeSpan.FromSeconds(3) } }));

        services.AddQlawOptions<RunOptions>("Runs", live: true);
        services.AddQlawOptions<LimitsOptions>("Limits", live: true);
        services.AddQlawOptions<ScriptedModelOptions>("Models:Scripted", live: true);
        services.TryAddScoped<WorkflowCatalog>();
        services.TryAddScoped<RunCommands>();
        services.TryAddScoped<RunForks>();
        services.TryAddScoped<RunQueries>();

        // The run status cache: HybridCache over Redis when ConnectionStrings:Redis is set (options in section Redis;
        // the process's one connection), otherwise none, and every snapshot comes from PostgreSQL.
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

        services.TryAddScoped<RunLog>();
        services.TryAddScoped<TurnStarter>();
        services.TryAddScoped<TurnJournal>();
        services.TryAddScoped<TurnSettlement>();
        services.TryAddScoped<RunEndings>();
        services.TryAddSingleton<DatabaseOutage>();
        services.AddQlawOptions<RecoveryOptions>("Recovery", live: true);
        services.TryAddSingleton<RunSignals>();
        services.TryAddScoped<RunRedriver>();
        services.TryAddSingleton<RunReconciler>();
        services.AddQlawOptions<RetentionOptions>("Retention", live: true);
        services.TryAddScoped<RunRetention>();
        services.AddQlawOptions<OpenAIProviderOptions>("Models:OpenAI", live: true);

        // Named endpoint keys are free-form names; their settings are checked by ModelEndpointsValidator.
        services.AddQlawOptions<ModelEndpointsOptions>("Models:Endpoints", live: true, allowUnknownKeys: true);
        services.AddSingleton<IValidateOptions<ModelEndpointsOptions>, ModelEndpointsValidator>();
        services.TryAddSingleton<ModelEndpoints>();
        services.TryAddSingleton<WorkflowRules>();
        services.AddQlawOptions<StreamingOptions>("Streaming", live: true);
        services.TryAddSingleton<ChatClientProvider>();
        services.AddQlawOptions<McpServersOptions>("Tools:Mcp", allowUnknownKeys: true);
        services.AddSingleton<IValidateOptions<McpServersOptions>, McpServersValidator>();
        services.TryAddSingleton<McpServers>();
        services.TryAddSingleton<AgentTools>();
        services.TryAddSingleton<IAgentTurnRunner, AgentFrameworkTurnRunner>();
        services.TryAddSingleton<RunEventHub>();
        services.AddHostedService(sp => sp.GetRequiredService<RunEventHub>());
        services.TryAddSingleton<IRunEventPublisher>(sp => sp.GetRequiredService<RunEventHub>());

        // Every streaming turn's text, written in one batch per window.
        services.TryAddSingleton<DeltaBatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<DeltaBatcher>());
        services.TryAddSingleton<RunStreamReader>();
        services.AddQlawOptions<ResponsesOptions>("Responses", live: true);
        services.TryAddScoped<ResponseConversations>();
        services.TryAddScoped<ResponsesService>();
        services.AddHostedService<DatabaseInitializer>();
        services.TryAddSingleton<ReadinessResults>();
        services.AddHealthChecks()
            .AddCheck<PostgresReadinessCheck>("postgres", tags: [ReadyTag])
            .AddCheck<DurableStorageReadinessCheck>("durable-storage", tags: [ReadyTag]);
        return builder;
    }

    /// <summary>
    /// The data source of a connection string. A turn runs the same few statements every time, so Npgsql prepares
    /// them on each connection after their second use (PostgreSQL then parses and plans them once). A server keeps at
    /// most <see cref="DefaultMaxPoolSize"/> connections: under a burst of work the rest wait for one (at most the
    /// connection string's <c>Timeout</c>) instead of each starting a PostgreSQL backend that plans its statements
    /// afresh and competes for the same cores. The connection string can say otherwise (<c>Max Auto Prepare</c>,
    /// <c>Auto Prepare Min Usages</c>, <c>Maximum Pool Size</c>). <paramref name="configure"/> adds what a host needs
    /// (Qlaw.Functions: a Microsoft Entra token as the password).
    /// </summary>
    public static NpgsqlDataSource CreateDataSource(string connectionString, Action<NpgsqlDataSourceBuilder>? configure = null)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        configure?.Invoke(builder);

        // What the connection string itself says: NpgsqlConnectionStringBuilder.ContainsKey is true of every keyword
        // it knows, set or not, so only a plain builder tells which ones are given.
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString };
        if (!Says(given, "Max Auto Prepare"))
        {
            builder.ConnectionStringBuilder.MaxAutoPrepare = 64;
        }

        if (!Says(given, "Auto Prepare Min Usages"))
        {
            builder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
        }

        // Npgsql reads the pool size under its name or as MaxPoolSize.
        if (!Says(given, "Maximum Pool Size") && !Says(given, "MaxPoolSize"))
        {
            builder.ConnectionStringBuilder.MaxPoolSize = DefaultMaxPoolSize;
        }

        return builder.Build();
    }

    /// <summary>A server's connections to PostgreSQL at most, unless its connection string says (Npgsql's own default is 100).</summary>
    public const int DefaultMaxPoolSize = 30;

    // Npgsql reads a keyword with or without its spaces, in any case.
    private static bool Says(DbConnectionStringBuilder given, string keyword) =>
        given.ContainsKey(keyword) || given.ContainsKey(keyword.Replace(" ", string.Empty, StringComparison.Ordinal));
}
