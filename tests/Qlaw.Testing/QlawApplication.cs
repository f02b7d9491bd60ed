using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Qlaw.Data;

namespace Qlaw.Testing;

/// <summary>
/// Qlaw.Server on real Kestrel over a fresh database of the shared stack, migrating at start like the local stack does.
/// </summary>
public sealed class QlawApplication(string postgres, string durableStorage, IDictionary<string, string?>? settings = null)
    : WebApplicationFactory<Program>
{
    /// <summary>
    /// Starts a server on its own task hub over a new, migrated database — or over <paramref name="database"/>, and on
    /// <paramref name="durableStorage"/> instead of the shared Azurite.
    /// </summary>
    public static async Task<QlawApplication> StartAsync(
        QlawStackFixture stack, IDictionary<string, string?>? settings = null, string? database = null, string? durableStorage = null)
    {
        var app = new QlawApplication(database ?? await stack.CreateMigratedDatabaseAsync(), durableStorage ?? stack.Azurite.ConnectionString, settings);
        app.UseKestrel(0);
        app.StartServer();
        return app;
    }

    /// <summary>
    /// Starts a server in this process on <paramref name="baseAddress"/> with the settings a <c>ServerProcess</c> gets
    /// (its connection strings, hub and recovery settings): the server before or after a crash test's doomed process,
    /// which needs no SIGKILL, costs the test host no new process to start and compile.
    /// </summary>
    public static QlawApplication StartAt(Uri baseAddress, IDictionary<string, string?> settings)
    {
        var app = new QlawApplication(settings["ConnectionStrings:Postgres"]!, settings["ConnectionStrings:DurableStorage"]!, settings);
        app.UseKestrel(baseAddress.Port);
        app.StartServer();
        return app;
    }

    /// <summary>The application's database.</summary>
    public string PostgresConnectionString => postgres;

    /// <summary>A context on the application's database, for arranging and asserting rows.</summary>
    public QlawDbContext CreateDbContext() =>
        new(new DbContextOptionsBuilder<QlawDbContext>().UseQlawPostgres(postgres).Options);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("ConnectionStrings:Postgres", postgres);
        builder.UseSetting("ConnectionStrings:DurableStorage", durableStorage);
        builder.UseSetting("Database:MigrateOnStartup", "true");
        foreach (var (key, value) in QlawStackFixture.IsolatedHubSettings())
        {
            builder.UseSetting(key, value);
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.UseSetting(key, value);
        }
    }
}
