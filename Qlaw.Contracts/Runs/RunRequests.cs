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
