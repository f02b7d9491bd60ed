using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Qlaw.Data;

/// <summary>Lets <c>dotnet ef</c> build the model without starting a host; no connection is opened to add a migration.</summary>
internal sealed class DesignTimeQlawDbContextFactory : IDesignTimeDbContextFactory<QlawDbContext>
{
    public QlawDbContext CreateDbContext(string[] args)
    {
        var connectionString = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
            ?? "Host=127.0.0.1;Port=54329;Database=qlaw;Username=qlaw";
        return new QlawDbContext(new DbContextOptionsBuilder<QlawDbContext>().UseQlawPostgres(connectionString).Options);
    }
}
