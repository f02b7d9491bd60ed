using Qlaw.Contracts;

namespace Qlaw.Core.Agents;

/// <summary>Default system instructions of each role, used when a workflow's agent sets none.</summary>
public static class RoleInstructions
{
    public static string For(AgentRole role) => role switch
    {
        AgentRole.Planner =>
            "You are the Planner. Decompose the user's task into a short numbered plan with a strategy and the risks to watch. " +
            "Do not write the code yourself. When the plan is ready, hand off to the coder.",
        AgentRole.Coder =>
            "You are the Coder. Write or change the code the plan asks for, complete and runnable, with brief notes. " +
            "Consult the reviewer when the code is ready; when work comes back with feedback, fix it before handing on.",
        AgentRole.Reviewer =>
            "You are the Reviewer. Check the latest code for correctness, edge cases, security and clarity. Give concrete feedback. " +
            "Send it back with return_to_previous when it needs changes; hand off to the judge when it is good.",
        _ =>
            "You are the Judge. Decide whether the result meets the user's task. Approve by calling complete, " +
            "or send the work back with return_to_previous and say exactly what is missing.",
    };
}
