using System.ComponentModel.DataAnnotations;

namespace Qlaw.Core.Database;

/// <summary>Connection strings (section <c>ConnectionStrings</c>); both are critical and read once at start.</summary>
public sealed class QlawConnectionStrings
{
    /// <summary>PostgreSQL, the system of record.</summary>
    [Required(ErrorMessage = "ConnectionStrings:Postgres is not set: point it at a PostgreSQL database.")]
    public string? Postgres { get; set; }

    /// <summary>Azure Storage account of the Durable Task hub (Azurite locally).</summary>
    [Required(ErrorMessage = "ConnectionStrings:DurableStorage is not set: point it at an Azure Storage account or Azurite.")]
    public string? DurableStorage { get; set; }
}

/// <summary>Database start-up behaviour (section <c>Database</c>).</summary>
public sealed class DatabaseOptions
{
    /// <summary>Apply pending migrations when the host starts (local stack, tests); production runs <c>migrate</c> instead.</summary>
    public bool MigrateOnStartup { get; set; }

    /// <summary>Folder of workflow JSON files created at start when no workflow of that name exists.</summary>
    public string? SeedWorkflowsPath { get; set; }

    /// <summary>
    /// How long a turn (or the dead-letter and finish steps) that finds PostgreSQL out of reach waits for it to answer
    /// again before failing, so that a database restart does not spend a turn's retries.
    /// </summary>
    [Range(0, 3600)]
    public int OutageWaitSeconds { get; set; } = 60;

    /// <summary>
    /// Sign in to Azure Database for PostgreSQL as the host's managed identity (Microsoft Entra ID): the connection
    /// string names the identity's role and no password, and a token fetched and refreshed every 30 minutes is the
    /// password (Qlaw.Functions on Azure; see infra/).
    /// </summary>
    public bool EntraAuthentication { get; set; }
}
