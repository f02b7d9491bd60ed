using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Qlaw.Core.Caching;

/// <summary>
/// The optional Redis cache (section <c>Redis</c>); it is used only when <c>ConnectionStrings:Redis</c> is set.
/// </summary>
public sealed class RedisOptions
{
    /// <summary>Name of the connection string that turns the cache on.</summary>
    public const string ConnectionStringName = "Redis";

    /// <summary>Prefix of every key Qlaw writes, so that several deployments can share one Redis.</summary>
    [Required(ErrorMessage = "Give a key prefix, e.g. qlaw:.")]
    [StringLength(100)]
    public string KeyPrefix { get; set; } = "qlaw:";

    /// <summary>How long a snapshot of an ended run is kept; it never changes, so this only bounds memory.</summary>
    [Range(1, 2_592_000)]
    public int SnapshotTtlSeconds { get; set; } = 3600;

    /// <summary>Connect, sync and async timeouts: short, because a slow Redis must not slow a request.</summary>
    [Range(50, 30_000)]
    public int TimeoutMs { get; set; } = 1000;
}

/// <summary>A malformed <c>ConnectionStrings:Redis</c> fails at start, not on the first status request.</summary>
internal sealed class RedisConnectionStringValidator(IConfiguration configuration) : IValidateOptions<RedisOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisOptions options)
    {
        if (configuration.GetConnectionString(RedisOptions.ConnectionStringName) is not { } value || string.IsNullOrWhiteSpace(value))
        {
            return ValidateOptionsResult.Success;
        }

        try
        {
            ConfigurationOptions.Parse(value);
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException ex)
        {
            return ValidateOptionsResult.Fail($"ConnectionStrings:{RedisOptions.ConnectionStringName}: not a valid Redis connection string ({ex.Message}).");
        }
    }
}
