using System.Text.Json;
using Qlaw.Core.Validation;

namespace Qlaw.Core.Runs;

/// <summary>What a request that makes a run is checked against, wherever it arrives: a start, a fork, <c>/v1/responses</c>.</summary>
public static class NewRunRules
{
    /// <summary>The longest Idempotency-Key accepted.</summary>
    public const int MaxIdempotencyKeyLength = 200;

    /// <summary>The errors of a request that makes a run (a start or a fork): its fields, its metadata and its Idempotency-Key.</summary>
    internal static Dictionary<string, string[]> Validate(object request, JsonElement? metadata, string? idempotencyKey)
    {
        var errors = ContractValidator.Validate(request);
        if (metadata is { ValueKind: not JsonValueKind.Object and not JsonValueKind.Null })
        {
            errors["metadata"] = ["Metadata must be a JSON object."];
        }

        AddKeyErrors(idempotencyKey, errors);
        return errors;
    }

    /// <summary>Adds the error of an Idempotency-Key that is empty or too long to <paramref name="errors"/>.</summary>
    internal static void AddKeyErrors(string? idempotencyKey, Dictionary<string, string[]> errors)
    {
        if (idempotencyKey is { Length: 0 or > MaxIdempotencyKeyLength })
        {
            errors["Idempotency-Key"] = [$"The key must be 1 to {MaxIdempotencyKeyLength} characters."];
        }
    }
}
