using System.Text.Json.Nodes;
using Qlaw.AppHost.LocalStack;

namespace Qlaw.Testing;

/// <summary>The repository's sample files, read as a client would send them.</summary>
public static class Samples
{
    public static string WorkflowsFolder => Path.Combine(RepositoryRoot.Find(), "samples", "workflows");

    /// <summary>The text of <c>samples/workflows/{name}.json</c>.</summary>
    public static string WorkflowJson(string name) => File.ReadAllText(Path.Combine(WorkflowsFolder, $"{name}.json"));

    /// <summary>The sample workflow as a mutable JSON tree, renamed to <paramref name="newName"/> when given.</summary>
    public static JsonObject Workflow(string name = "code-review", string? newName = null)
    {
        var workflow = JsonNode.Parse(WorkflowJson(name))!.AsObject();
        if (newName is not null)
        {
            workflow["name"] = newName;
        }

        return workflow;
    }

    /// <summary>
    /// The sample workflow renamed <paramref name="name"/>, whose planner asks for an order number, then completes the
    /// run with "Found your order." once it is answered.
    /// </summary>
    public static JsonObject AsksForInput(string name = "hil")
    {
        var workflow = Workflow(newName: name);
        workflow["agents"]![0]!["script"] = new JsonArray(
            new JsonObject { ["say"] = "Let me check.", ["call"] = "request_input", ["prompt"] = "Please provide your order number" },
            new JsonObject { ["say"] = "Found your order.", ["call"] = "complete" });
        return workflow;
    }

    /// <summary>
    /// A sample workflow with every agent on the OpenAI-compatible endpoint configured for the server, on its default
    /// model (no scripts).
    /// </summary>
    public static JsonObject OnTheModel(string sample, string name)
    {
        var workflow = Workflow(sample, name);
        workflow["model"] = new JsonObject { ["provider"] = "openai" };
        foreach (var agent in workflow["agents"]!.AsArray())
        {
            agent!.AsObject().Remove("script");
        }

        return workflow;
    }

    /// <summary>
    /// Planner → coder → judge on the server's OpenAI-compatible endpoint: the fake model's paced answers hand off down
    /// the chain and complete at the judge.
    /// </summary>
    public static JsonObject Chain(string name) => JsonNode.Parse($$"""
        {
          "name": "{{name}}",
          "start_agent": "planner",
          "agents": [
            {"name": "planner", "role": "planner", "handoffs": ["coder"]},
            {"name": "coder", "role": "coder", "handoffs": ["judge"]},
            {"name": "judge", "role": "judge"}
          ],
          "retry": {"max_attempts": 2, "first_interval_ms": 100, "backoff_coefficient": 1.0, "max_interval_ms": 100},
          "model": {"provider": "openai"}
        }
        """)!.AsObject();
}
