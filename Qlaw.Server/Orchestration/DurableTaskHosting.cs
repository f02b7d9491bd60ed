using System.Text.Json;
using DurableTask.AzureStorage;
using DurableTask.Core;
using DurableTask.Core.Serializing;
using Microsoft.Extensions.Options;
using Qlaw.Core.Configuration;
using Qlaw.Core.Database;
using Qlaw.Core.Operations;
using Qlaw.Core.Orchestration;

namespace Qlaw.Server.Orchestration;

/// <summary>Hosts the Durable Task hub in this process: Azure Storage provider, worker and client.</summary>
public static class DurableTaskHosting
{
    /// <summary>Adds the hub, the hosted worker running Core's orchestrator and activities, and the run scheduler.</summary>
    public static WebApplicationBuilder AddQlawDurableTask(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddQlawOptions<DurableHubOptions>("Durable");
        services.AddSingleton(sp =>
        {
            var hub = sp.GetRequiredService<IOptions<DurableHubOptions>>().Value;
            var storage = sp.GetRequiredService<IOptions<QlawConnectionStrings>>().Value.DurableStorage!;
            return new AzureStorageOrchestrationServiceSettings
            {
                StorageAccountClientProvider = new StorageAccountClientProvider(storage),
                TaskHubName = hub.HubName,
                PartitionCount = hub.PartitionCount,
                MaxQueuePollingInterval = hub.MaxQueuePollingInterval,
                ControlQueueVisibilityTimeout = hub.ControlQueueVisibilityTimeout,
                WorkItemQueueVisibilityTimeout = hub.WorkItemQueueVisibilityTimeout,
                WorkerId = hub.WorkerId,
                LeaseInterval = hub.LeaseInterval,
                MaxConcurrentTaskActivityWorkItems = hub.MaxConcurrentActivities,
                MaxConcurrentTaskOrchestrationWorkItems = hub.MaxConcurrentOrchestrations,
                ExtendedSessionsEnabled = hub.ExtendedSessions,
                ExtendedSessionIdleTimeout = hub.ExtendedSessionIdleTimeout,
                DisableExecutionStartedDeduplication = !hub.ExecutionStartedDeduplication,
                UseAppLease = hub.AppLease,
                LoggerFactory = sp.GetRequiredService<ILoggerFactory>(),
            };
        });
        services.AddSingleton(sp => new AzureStorageOrchestrationService(sp.GetRequiredService<AzureStorageOrchestrationServiceSettings>()));
        // Inputs cross the hub as System.Text.Json, the serializer the orchestrator and activities read them with.
        services.AddSingleton(sp => new TaskHubClient(
            sp.GetRequiredService<AzureStorageOrchestrationService>(),
            new SystemTextJsonDataConverter(),
            sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton<IRunScheduler, TaskHubRunScheduler>();
        services.AddSingleton<DurableTaskWorkerService>();
        services.AddHostedService(sp => sp.GetRequiredService<DurableTaskWorkerService>());

        // Self-healing: left-over outbox signals are delivered and lost runs re-driven from PostgreSQL.
        services.AddHostedService<RecoveryWorker>();

        // Retention: ended runs older than Retention:DeleteRunsAfterSeconds are deleted with their history (off unless set).
        services.AddHostedService<RetentionWorker>();
        return builder;
    }
}

/// <summary>
/// DurableTask.Core's client serializes with Newtonsoft by default; the Microsoft.DurableTask orchestrator reads with
/// System.Text.Json. This converter makes the client write what the orchestrator reads.
/// </summary>
internal sealed class SystemTextJsonDataConverter : DataConverter
{
    public override string Serialize(object value) => Serialize(value, formatted: false);

    public override string Serialize(object value, bool formatted) =>
        JsonSerializer.Serialize(value, value?.GetType() ?? typeof(object), formatted ? Indented : Compact);

    public override object Deserialize(string data, Type objectType) => JsonSerializer.Deserialize(data, objectType, Compact)!;

    private static readonly JsonSerializerOptions Compact = new();
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
