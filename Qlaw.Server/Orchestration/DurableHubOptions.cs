using System.ComponentModel.DataAnnotations;

namespace Qlaw.Server.Orchestration;

/// <summary>
/// The Durable Task hub on Azure Storage (section <c>Durable</c>). The storage provider's defaults suit the cloud;
/// these suit one or a few servers: the first request after an idle minute waits at most <see cref="MaxQueuePollingInterval"/>,
/// and work a killed worker held reappears after the visibility timeouts.
/// </summary>
public sealed class DurableHubOptions
{
    /// <summary>Task hub name: letters and digits only. Critical: a change needs a restart.</summary>
    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,44}$", ErrorMessage = "Durable:HubName must be 3-45 letters and digits, starting with a letter.")]
    public string HubName { get; set; } = "qlaw";

    [Range(1, 16)]
    public int PartitionCount { get; set; } = 4;

    public TimeSpan MaxQueuePollingInterval { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan ControlQueueVisibilityTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan WorkItemQueueVisibilityTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a partition lease lasts; a worker that dies without its WorkerId coming back frees them after this.</summary>
    public TimeSpan LeaseInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Stable across restarts so that a restarted server takes its partitions back at once.</summary>
    public string WorkerId { get; set; } = Environment.MachineName;

    /// <summary>
    /// Keep an orchestration in memory between its episodes (for <see cref="ExtendedSessionIdleTimeout"/>) instead of
    /// reading its history back from table storage at every step.
    /// </summary>
    public bool ExtendedSessions { get; set; } = true;

    public TimeSpan ExtendedSessionIdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The provider's check of every start message against the Instances table (off by default). The client sends a
    /// run's start message before it writes the instance's row, so a worker that dequeues the message first (the
    /// usual case in one process: sending wakes its poller) found no row and put the message back for 2 s — a
    /// multi-second stall before a run's first turn. Duplicate starts stay harmless without it: the scheduler asks for
    /// the instance's status before it sends (dedupe statuses), the outbox delivers a signal from one process at a
    /// time, and Durable Task drops a second start event of an instance that has started.
    /// </summary>
    public bool ExecutionStartedDeduplication { get; set; }

    /// <summary>
    /// The provider's app lease (off by default): a blob lease that lets only one app (by app name) work a hub, for
    /// two deployments sharing one. Servers of one deployment do not need it, and it cost them the hub: when a renewal
    /// (every 25 s) fails once — as after a storage restart, where the renewed lease was no longer the one held — the
    /// provider stops the worker's partitions and tries for the lease again only every 5 minutes, and runs stand
    /// still meanwhile. Partition leases still keep each orchestration to one server.
    /// </summary>
    public bool AppLease { get; set; }

    /// <summary>
    /// The pause of the orchestration fetcher after a failed fetch or episode, for each of its next five fetches
    /// (<see cref="ErrorBackoffOrchestrationService"/>; the provider's own is 10 s, and it held every run back).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan ErrorBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Activities (agent turns, mostly) this server runs at once. A turn spends nearly all its time waiting on its model,
    /// holding a few kilobytes and no database connection, so this is sized for I/O: what bounds model calls is each
    /// endpoint's <c>MaxConcurrentCalls</c>, and a turn beyond it waits in the endpoint's queue, visible in status.
    /// </summary>
    [Range(1, 10_000)]
    public int MaxConcurrentActivities { get; set; } = 1000;

    /// <summary>
    /// Orchestration episodes at once. An episode is a few milliseconds of CPU; half of these may be extended sessions
    /// that stay in memory between a run's turns (<see cref="ExtendedSessions"/>), each holding its place meanwhile.
    /// </summary>
    [Range(1, 10_000)]
    public int MaxConcurrentOrchestrations { get; set; } = 256;
}
