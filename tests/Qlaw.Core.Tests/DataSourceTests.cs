using Npgsql;

namespace Qlaw.Core.Tests;

/// <summary>
/// The server's PostgreSQL data source prepares a turn's repeated statements (PostgreSQL then parses and plans each
/// once per connection) and keeps a small pool, unless the connection string decides otherwise.
/// </summary>
public sealed class DataSourceTests
{
    private const string Plain = "Host=127.0.0.1;Port=5432;Username=qlaw;Database=qlaw";

    [Fact]
    public async Task A_plain_connection_string_gets_automatic_preparation()
    {
        await using var dataSource = QlawCoreExtensions.CreateDataSource(Plain);

        var settings = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        Assert.Equal((64, 2), (settings.MaxAutoPrepare, settings.AutoPrepareMinUsages));
    }

    [Fact]
    public async Task A_plain_connection_string_gets_a_small_pool()
    {
        await using var dataSource = QlawCoreExtensions.CreateDataSource(Plain);

        Assert.Equal(30, new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).MaxPoolSize);
    }

    [Theory]
    [InlineData(";Maximum Pool Size=100", 100)]
    [InlineData(";maxpoolsize=8", 8)]
    public async Task The_connection_strings_pool_size_wins(string extra, int maxPoolSize)
    {
        await using var dataSource = QlawCoreExtensions.CreateDataSource(Plain + extra);

        Assert.Equal(maxPoolSize, new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).MaxPoolSize);
    }

    [Theory]
    [InlineData(";Max Auto Prepare=0", 0, 2)]
    [InlineData(";MaxAutoPrepare=8;Auto Prepare Min Usages=5", 8, 5)]
    [InlineData(";max auto prepare=16;AutoPrepareMinUsages=3", 16, 3)]
    public async Task What_the_connection_string_says_wins(string extra, int maxAutoPrepare, int minUsages)
    {
        await using var dataSource = QlawCoreExtensions.CreateDataSource(Plain + extra);

        var settings = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        Assert.Equal((maxAutoPrepare, minUsages), (settings.MaxAutoPrepare, settings.AutoPrepareMinUsages));
    }
}
