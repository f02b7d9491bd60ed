using System.Globalization;
using DurableTask.AzureStorage;
using Microsoft.Extensions.Logging.Abstractions;

namespace Qlaw.Bench.Stack;

/// <summary>
/// One Durable Task hub's settings, given to Qlaw.Server (section <c>Durable</c>) and to the bare engine alike, so both
/// run on the same provider tuning. The defaults are Qlaw.Server's own (<c>DurableHubOptions</c>).
/// </summary>
internal sealed record HubSettings(string HubName)
{
    public int PartitionCount { get; init; } = 4;

    public TimeSpan MaxQueuePollingInterval { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan ControlQueueVisibilityTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan WorkItemQueueVisibilityTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan LeaseInterval { get; init; } = TimeSpan.FromSeconds(30);

    public string WorkerId { get; init; } = "bench";

    public bool ExtendedSessions { get; init; } = true;

    public TimeSpan ExtendedSessionIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public bool ExecutionStartedDeduplication { get; init; }

    public bool AppLease { get; init; }

    public TimeSpan ErrorBackoff { get; init; } = TimeSpan.FromSeconds(1);

    public int MaxConcurrentActivities { get; init; } = 1000;

    public int MaxConcurrentOrchestrations { get; init; } = 256;

    /// <summary>A new hub name: letters and digits, unique per start.</summary>
    public static HubSettings Fresh(string prefix) => new($"{prefix}{Guid.NewGuid():N}"[..24]);

    /// <summary>The server's configuration keys for this hub.</summary>
    public Dictionary<string, string?> ToServerSettings() => new()
    {
        ["Durable:HubName"] = HubName,
        ["Durable:PartitionCount"] = PartitionCount.ToString(CultureInfo.InvariantCulture),
        ["Durable:MaxQueuePollingInterval"] = MaxQueuePollingInterval.ToString("c"),
        ["Durable:ControlQueueVisibilityTimeout"] = ControlQueueVisibilityTimeout.ToString("c"),
        ["Durable:WorkItemQueueVisibilityTimeout"] = WorkItemQueueVisibilityTimeout.ToString("c"),
        ["Durable:LeaseInterval"] = LeaseInterval.ToString("c"),
        ["Durable:WorkerId"] = WorkerId,
        ["Durable:ExtendedSessions"] = ExtendedSessions ? "true" : "false",
        ["Durable:ExtendedSessionIdleTimeout"] = ExtendedSessionIdleTimeout.ToString("c"),
        ["Durable:ExecutionStartedDeduplication"] = ExecutionStartedDeduplication ? "true" : "false",
        ["Durable:AppLease"] = AppLease ? "true" : "false",
        ["Durable:ErrorBackoff"] = ErrorBackoff.ToString("c"),
        ["Durable:MaxConcurrentActivities"] = MaxConcurrentActivities.ToString(CultureInfo.InvariantCulture),
        ["Durable:MaxConcurrentOrchestrations"] = MaxConcurrentOrchestrations.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>The provider settings exactly as Qlaw.Server's <c>DurableTaskHosting</c> builds them from the same values.</summary>
    public AzureStorageOrchestrationServiceSettings ToEngineSettings(string storageConnectionString) => new()
    {
        StorageAccountClientProvider = new StorageAccountClientProvider(storageConnectionString),
        TaskHubName = HubName,
        PartitionCount = PartitionCount,
        MaxQueuePollingInterval = MaxQueuePollingInterval,
        ControlQueueVisibilityTimeout = ControlQueueVisibilityTimeout,
        WorkItemQueueVisibilityTimeout = WorkItemQueueVisibilityTimeout,
        WorkerId = WorkerId,
        LeaseInterval = LeaseInterval,
        MaxConcurrentTaskActivityWorkItems = MaxConcurrentActivities,
        MaxConcurrentTaskOrchestrationWorkItems = MaxConcurrentOrchestrations,
        ExtendedSessionsEnabled = ExtendedSessions,
        ExtendedSessionIdleTimeout = ExtendedSessionIdleTimeout,
        DisableExecutionStartedDeduplication = !ExecutionStartedDeduplication,
        UseAppLease = AppLease,
        LoggerFactory = NullLoggerFactory.Instance,
    };
}
