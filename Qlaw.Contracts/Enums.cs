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
