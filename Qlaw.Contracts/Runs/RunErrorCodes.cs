namespace Qlaw.Contracts.Runs;

/// <summary>
/// The stable codes of a run's or step's error (<c>last_error_code</c>, <c>steps[].error_code</c>, <c>response.error</c>'s
/// <c>error.code</c>). The message beside a code is Qlaw's own; what went wrong inside goes to the server log.
/// </summary>
public static class RunErrorCodes
{
    /// <summary>The model provider failed for a while (timeouts, 429, 5xx) and the turn's retries ran out.</summary>
    public const string ModelUnavailable = "model_unavailable";

    /// <summary>The model sent nothing for its endpoint's first-token or idle timeout, and the turn's retries ran out.</summary>
    public const string ModelTimeout = "model_timeout";

    /// <summary>The model's answer was cut by its output token limit (<c>finish_reason: length</c>) again after it was asked to go on once.</summary>
    public const string AnswerTruncated = "answer_truncated";

    /// <summary>The model provider refused the request (a bad model name, key or request).</summary>
    public const string ModelRejected = "model_rejected";

    /// <summary>The model called a tool it was not offered, or with arguments that do not parse, and no default edge applies.</summary>
    public const string InvalidToolCall = "invalid_tool_call";

    /// <summary>The run reached the workflow's <c>max_steps</c>.</summary>
    public const string MaxSteps = "max_steps_exceeded";

    /// <summary>Work was returned to one agent more than the workflow's <c>max_returns</c>.</summary>
    public const string MaxReturns = "max_returns_exceeded";

    /// <summary>The run's completed turns used more tokens than its budget (<c>limits.max_total_tokens</c>, <c>Limits:MaxTotalTokens</c>).</summary>
    public const string BudgetExceeded = "budget_exceeded";

    /// <summary>One turn's text passed the server's cap (<c>Limits:MaxTurnChars</c>): the model call was stopped.</summary>
    public const string TurnTooLong = "turn_too_long";

    /// <summary>PostgreSQL was out of reach for longer than the turn waits for it.</summary>
    public const string DatabaseUnavailable = "database_unavailable";

    /// <summary>The run was cancelled while the step ran.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>Something failed inside Qlaw; the server log has the details under the trace id in the message.</summary>
    public const string Internal = "internal_error";
}
