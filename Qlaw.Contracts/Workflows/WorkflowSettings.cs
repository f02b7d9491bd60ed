using System.ComponentModel.DataAnnotations;

namespace Qlaw.Contracts.Workflows;

/// <summary>Bounds that stop a run from looping forever; the run fails with a clear reason when one is hit.</summary>
public sealed record WorkflowLimits
{
    public const int DefaultMaxSteps = 32;
    public const int DefaultMaxReturns = 3;

    /// <summary>Agent turns a run may take in total.</summary>
    [Range(1, 1000)]
    public int? MaxSteps { get; init; }

    /// <summary>Times work may be sent back to any one agent with <c>return_to_previous</c>.</summary>
    [Range(1, 100)]
    public int? MaxReturns { get; init; }

    /// <summary>Tokens (input and output, all turns) a run may spend; the server's ceiling when left out.</summary>
    [Range(1, int.MaxValue)]
    public int? MaxTotalTokens { get; init; }

    /// <summary>Tool calls one agent turn may make; the server's ceiling when left out.</summary>
    [Range(1, 1000)]
    public int? MaxToolCallsPerTurn { get; init; }
}

/// <summary>How a failing agent turn is retried before the run is dead-lettered.</summary>
public sealed record RetryPolicyDefinition
{
    [Range(1, 20)]
    public int? MaxAttempts { get; init; }

    [Range(1, 600_000)]
    public int? FirstIntervalMs { get; init; }

    [Range(1.0, 10.0)]
    public double? BackoffCoefficient { get; init; }

    [Range(1, 3_600_000)]
    public int? MaxIntervalMs { get; init; }
}

/// <summary>Model settings for an agent (or, on the workflow, for all of them).</summary>
public sealed record ModelOptions
{
    public ModelProvider? Provider { get; init; }

    /// <summary>Model or deployment name, e.g. <c>gpt-4o-mini</c>.</summary>
    [StringLength(200)]
    public string? Model { get; init; }

    /// <summary>
    /// Name of a model endpoint configured on the server (<c>Models:Endpoints:&lt;name&gt;</c>); the default endpoint
    /// when left out. Endpoints, their URLs and keys are server settings: a workflow only picks one.
    /// </summary>
    [StringLength(64)]
    public string? Endpoint { get; init; }

    /// <summary>
    /// OpenAI-compatible base URL: accepted only when it is the base URL of a configured endpoint (which it then
    /// selects). Keys never go here.
    /// </summary>
    [StringLength(2000), Url]
    public string? BaseUrl { get; init; }

    [Range(0.0, 2.0)]
    public double? Temperature { get; init; }

    [Range(1, 200_000)]
    public int? MaxOutputTokens { get; init; }
}
