using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Qlaw.Contracts;
using Qlaw.Contracts.Workflows;
using Qlaw.Core.Workflows;
using Qlaw.Data;

namespace Qlaw.Core.Database;

/// <summary>Applies migrations and seeds sample workflows before the host serves requests, when configured to.</summary>
public sealed partial class DatabaseInitializer(IServiceScopeFactory scopes, IOptions<DatabaseOptions> options, ILogger<DatabaseInitializer> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.MigrateOnStartup)
        {
            await MigrateAsync(scopes, cancellationToken);
            LogMigrated(logger);
        }

        if (options.Value.SeedWorkflowsPath is { Length: > 0 } path)
        {
            await SeedAsync(path, cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Applies pending migrations; used at start-up and by the <c>migrate</c> command.</summary>
    public static async Task MigrateAsync(IServiceScopeFactory scopes, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<QlawDbContext>();
        await CreateHistoryTableAsync(db, cancellationToken);
        await db.Database.MigrateAsync(cancellationToken);
    }

    /// <summary>
    /// Creates EF Core's migration history table when it is missing. Npgsql's migrator learns that a database is fresh
    /// by reading that table and failing, and EF Core logs the failed read as an error (npgsql/efcore.pg#3407), so every
    /// first start printed a failed SQL command; with the table created first, a fresh database reads as one without
    /// migrations.
    /// </summary>
    private static async Task CreateHistoryTableAsync(QlawDbContext db, CancellationToken cancellationToken)
    {
        try
        {
            await db.Database.ExecuteSqlRawAsync(db.GetService<IHistoryRepository>().GetCreateIfNotExistsScript(), cancellationToken);
        }
        catch (PostgresException exception) when (exception.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.DuplicateTable)
        {
            // Another server created it at the same moment.
        }
    }

    private async Task SeedAsync(string path, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var catalog = scope.ServiceProvider.GetRequiredService<WorkflowCatalog>();
        foreach (var file in Directory.EnumerateFiles(path, "*.json").Order(StringComparer.Ordinal))
        {
            await using var stream = File.OpenRead(file);
            var definition = await JsonSerializer.DeserializeAsync<WorkflowDefinition>(stream, QlawJson.Options, cancellationToken);
            if (definition is null || await catalog.FindAsync(definition.Name, cancellationToken) is not null)
            {
                continue;
            }

            var result = await catalog.CreateAsync(definition, cancellationToken);
            if (result is CreateWorkflowResult.Invalid invalid)
            {
                LogSeedInvalid(logger, file, string.Join("; ", invalid.Errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")));
            }
            else
            {
                LogSeeded(logger, definition.Name, file);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Database migrations applied")]
    private static partial void LogMigrated(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Seeded workflow {Name} from {File}")]
    private static partial void LogSeeded(ILogger logger, string name, string file);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sample workflow {File} is invalid and was not seeded: {Errors}")]
    private static partial void LogSeedInvalid(ILogger logger, string file, string errors);
}
