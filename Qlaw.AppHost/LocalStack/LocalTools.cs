namespace Qlaw.AppHost.LocalStack;

/// <summary>The MCP servers of the local stack: <c>files</c>, the filesystem server of the npm packages, on one workspace folder.</summary>
public static class LocalTools
{
    /// <summary>
    /// Settings of the <c>files</c> server on <paramref name="workspace"/> (created if missing): the sample
    /// <c>code-with-files</c> works in it, each run in a folder of its own.
    /// </summary>
    public static async Task<Dictionary<string, string?>> SettingsAsync(string repositoryRoot, string workspace)
    {
        Directory.CreateDirectory(workspace);
        return new()
        {
            ["Tools:Mcp:files:Command"] = "node",
            ["Tools:Mcp:files:Arguments:0"] = await NodePackages.EnsureInstalledAsync(repositoryRoot, Path.Combine("@modelcontextprotocol", "server-filesystem", "dist", "index.js")),
            ["Tools:Mcp:files:Arguments:1"] = workspace,
            ["Tools:Mcp:files:IdempotentTools:0"] = "read_text_file",
            ["Tools:Mcp:files:IdempotentTools:1"] = "create_directory",
        };
    }
}
