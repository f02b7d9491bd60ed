using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Npgsql.EntityFrameworkCore.PostgreSQL.Infrastructure;

namespace Qlaw.Data;

/// <summary>The one way Qlaw points EF Core at PostgreSQL, shared by the hosts and the design-time tools.</summary>
public static class QlawDbContextOptions
{
    /// <summary>Configures Npgsql with snake_case names and migrations in this assembly.</summary>
    public static TBuilder UseQlawPostgres<TBuilder>(this TBuilder builder, string connectionString)
        where TBuilder : DbContextOptionsBuilder
    {
        builder.UseNpgsql(connectionString, Configure).UseSnakeCaseNamingConvention();
        return builder;
    }

    /// <summary>Same as <see cref="UseQlawPostgres{TBuilder}(TBuilder, string)"/> over a shared data source.</summary>
    public static TBuilder UseQlawPostgres<TBuilder>(this TBuilder builder, DbDataSource dataSource)
        where TBuilder : DbContextOptionsBuilder
    {
        builder.UseNpgsql(dataSource, Configure).UseSnakeCaseNamingConvention();
        return builder;
    }

    private static void Configure(NpgsqlDbContextOptionsBuilder npgsql) =>
        npgsql.MigrationsAssembly(typeof(QlawDbContext).Assembly.GetName().Name);
}
