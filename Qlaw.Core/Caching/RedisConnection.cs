using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Qlaw.Core.Caching;

/// <summary>
/// The process's one connection to the optional Redis (<c>ConnectionStrings:Redis</c>), shared by the status cache and
/// the service-wide limits. It starts even when Redis is down and reconnects by itself; while disconnected, commands
/// fail at once (no backlog) and every user falls back to what it does without Redis.
/// </summary>
public sealed class RedisConnection : IAsyncDisposable
{
    private readonly Lazy<ConnectionMultiplexer>? _connection;

    public RedisConnection(IConfiguration configuration, IOptions<RedisOptions> options)
    {
        Options = options.Value;
        if (configuration.GetConnectionString(RedisOptions.ConnectionStringName) is { } redis && !string.IsNullOrWhiteSpace(redis))
        {
            var timeout = Options.TimeoutMs;
            _connection = new(() => ConnectionMultiplexer.Connect(redis, c =>
            {
                c.AbortOnConnectFail = false;
                c.BacklogPolicy = BacklogPolicy.FailFast;
                c.ConnectTimeout = c.SyncTimeout = c.AsyncTimeout = timeout;
            }));
        }
    }

    /// <summary>Whether Redis is configured at all.</summary>
    public bool Configured => _connection is not null;

    public RedisOptions Options { get; }

    /// <summary>The connection (made on first use); only when <see cref="Configured"/>.</summary>
    public IConnectionMultiplexer Multiplexer => (_connection ?? throw new InvalidOperationException("Redis is not configured.")).Value;

    public async ValueTask DisposeAsync()
    {
        if (_connection is { IsValueCreated: true } connection)
        {
            await connection.Value.DisposeAsync();
        }
    }
}
