using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Qlaw.Core.Caching;

namespace Qlaw.Core.Tests;

public sealed class RedisOptionsTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("127.0.0.1:6379")]
    [InlineData("127.0.0.1:6379,password=secret,ssl=false")]
    public void An_unset_or_well_formed_connection_string_passes(string? connectionString) =>
        Assert.True(Validate(connectionString).Succeeded);

    [Fact]
    public void A_malformed_connection_string_fails_at_start_naming_the_key()
    {
        var result = Validate("127.0.0.1:6379,nonsense=1");

        Assert.True(result.Failed);
        Assert.StartsWith("ConnectionStrings:Redis:", result.FailureMessage, StringComparison.Ordinal);
    }

    private static ValidateOptionsResult Validate(string? connectionString) =>
        new RedisConnectionStringValidator(new ConfigurationBuilder()
            .AddInMemoryCollection([KeyValuePair.Create("ConnectionStrings:Redis", connectionString)]).Build())
            .Validate(null, new RedisOptions());
}
