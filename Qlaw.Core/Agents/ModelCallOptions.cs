using System.ComponentModel.DataAnnotations;

namespace Qlaw.Core.Agents;

/// <summary>
/// How calls to one model endpoint are bounded and paced (keys of <c>Models:OpenAI</c> and of each
/// <c>Models:Endpoints:&lt;name&gt;</c>). A turn spends nearly all its time waiting on the provider, so what bounds turns
/// in flight is the provider's capacity, not a worker slot: these say what that capacity is.
/// </summary>
public abstract class ModelCallOptions
{
    public const int DefaultMaxConcurrentCalls = 200;

    /// <summary>Models (or deployments) workflows may name on this endpoint; empty allows only its default model.</summary>
    public string[] AllowedModels { get; set; } = [];

    /// <summary>
    /// With no <see cref="AllowedModels"/>, let workflows name any model on this endpoint (off: only its default model,
    /// so that no caller picks the endpoint's most expensive one).
    /// </summary>
    public bool AllowAnyModel { get; set; }

    /// <summary>Longest wait for any read of one call (connect, headers, a chunk of the stream).</summary>
    [Range(1, 3600)]
    public int TimeoutSeconds { get; set; } = 120;

    /// <summary>
    /// Most calls this server makes to the endpoint at once; a turn beyond it waits for a free call (status and audit
    /// show it waiting for its model). 200 turns of a few seconds each are a few thousand requests a minute, the range
    /// of a paid OpenAI or Azure OpenAI quota; the provider's own rate-limit headers slow the endpoint further.
    /// </summary>
    [Range(1, 10_000)]
    public int MaxConcurrentCalls { get; set; } = DefaultMaxConcurrentCalls;

    /// <summary>A call that sends nothing this long after it was made fails its attempt (retried).</summary>
    [Range(1, 3600)]
    public int FirstTokenTimeoutSeconds { get; set; } = 120;

    /// <summary>A stream that sends nothing this long after its last chunk fails its attempt (retried).</summary>
    [Range(1, 3600)]
    public int IdleTimeoutSeconds { get; set; } = 60;

    /// <summary>Longest wait a provider's <c>retry-after</c> may ask for; a longer one is cut to this.</summary>
    [Range(1, 3600)]
    public int MaxRetryAfterSeconds { get; set; } = 60;

    /// <summary>
    /// Most time one turn waits on a provider's 429/503 answers in all; past it the attempt fails (and the run's retry
    /// policy takes over). Waits the provider asked for never spend the workflow's attempts before this.
    /// </summary>
    [Range(0, 86_400)]
    public int MaxThrottledSeconds { get; set; } = 600;

    /// <summary>
    /// Send <c>parallel_tool_calls: false</c>, so that a model makes one routing call a turn. Turn it off for an endpoint
    /// that refuses the parameter; a turn with several calls still follows one and records the others.
    /// </summary>
    public bool DisableParallelToolCalls { get; set; } = true;
}
