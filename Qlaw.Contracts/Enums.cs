namespace Qlaw.Contracts;

/// <summary>The specialist roles an agent can play.</summary>
public enum AgentRole
{
    Planner,
    Coder,
    Reviewer,
    Judge,
}

/// <summary>Lifecycle of a run: queued → running → (awaiting_input ⇄ running) → completed | failed | cancelled.</summary>
public enum RunStatus
{
    Queued,
    Running,
    AwaitingInput,
    Completed,
    Failed,
    Cancelled,
}

/// <summary>Lifecycle of one attempt of one agent turn.</summary>
public enum StepStatus
{
    Running,
    Completed,
    Failed,
    Superseded,
}

/// <summary>Where an agent's model comes from.</summary>
public enum ModelProvider
{
    /// <summary>Offline and deterministic; the default.</summary>
    Scripted,

    /// <summary>OpenAI, Azure OpenAI or any OpenAI-compatible base URL.</summary>
    Openai,
}

/// <summary>Where a tool call stands in its record (<c>tool_calls.status</c>).</summary>
public enum ToolCallStatus
{
    /// <summary>Recorded before the call went to its MCP server; still so after a crash cut it off.</summary>
    Running,

    /// <summary>The server answered (its error too, which the model sees as the tool's result).</summary>
    Completed,

    /// <summary>The tool needs a person's approval; the run waits for it.</summary>
    AwaitingApproval,

    /// <summary>A person approved it (or the re-run of an uncertain call); it runs in the agent's next turn.</summary>
    Approved,

    /// <summary>A person denied it; the model is told so as the tool's result.</summary>
    Denied,

    /// <summary>It was running when the process died and its tool is not idempotent: a person decides whether it runs again.</summary>
    Uncertain,
}
