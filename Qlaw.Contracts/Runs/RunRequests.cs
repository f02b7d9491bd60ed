using System.ComponentModel.DataAnnotations;
using System.Text.Json;

namespace Qlaw.Contracts.Runs;

/// <summary>Body of <c>POST /v1/workflows/{id}/runs</c>.</summary>
public sealed record StartRunRequest
{
    public const int MaxInputLength = 100_000;

    /// <summary>The task for the first agent.</summary>
    [Required, StringLength(MaxInputLength, MinimumLength = 1)]
    public string Input { get; init; } = "";

    /// <summary>Caller data stored with the run and returned as given (a JSON object).</summary>
    public JsonElement? Metadata { get; init; }
}

/// <summary>Body of <c>POST /v1/runs/{id}/continue</c>: the user's answer when the run awaits input.</summary>
public sealed record ContinueRunRequest
{
    [StringLength(StartRunRequest.MaxInputLength)]
    public string? Input { get; init; }

    /// <summary>
    /// The answer to a tool call that waits for a person: true runs it, false tells the agent it was denied. Without it,
    /// an <c>input</c> that starts with "yes" approves and any other denies, with the input as the reason.
    /// </summary>
    public bool? Approve { get; init; }

    /// <summary>Why the call is approved or denied; the agent is told.</summary>
    [StringLength(2000)]
    public string? Reason { get; init; }
}

/// <summary>Body of <c>POST /v1/runs/{id}/handoff</c>: move control to an agent at the next turn boundary.</summary>
public sealed record HandoffRequest
{
    [Required, StringLength(32, MinimumLength = 1)]
    public string ToAgent { get; init; } = "";

    [StringLength(2000)]
    public string? Reason { get; init; }

    /// <summary>Push the current agent as origin so that <c>return_to_previous</c> comes back to it.</summary>
    public bool? WithReturn { get; init; }
}

/// <summary>
/// Body of <c>POST /v1/runs/{id}/fork</c>: a new run sharing the run's history up to and including step
/// <see cref="FromStep"/>, continuing from there; <see cref="Input"/>, when given, is what the next agent receives.
/// </summary>
public sealed record ForkRunRequest
{
    /// <summary>Index of the last step to keep: a completed step of the run.</summary>
    [Required, Range(0, int.MaxValue)]
    public int? FromStep { get; init; }

    /// <summary>A new instruction for the agent that takes the turn after <see cref="FromStep"/>.</summary>
    [StringLength(StartRunRequest.MaxInputLength, MinimumLength = 1)]
    public string? Input { get; init; }

    /// <summary>The new run's metadata (a JSON object); the source run's when left out.</summary>
    public JsonElement? Metadata { get; init; }
}
