namespace Qlaw.Core.Runs;

/// <summary>Which <c>/v1/responses</c> call starts a run: its body's hash (for its Idempotency-Key), conversation, client, and the run it follows up.</summary>
public sealed record ResponsesOrigin(string RequestHash, string? ConversationId, string ClientKey, string? FollowUpOf);
