using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Qlaw.Core.Configuration;

namespace Qlaw.Core.Tools;

/// <summary>
/// The MCP servers agents may use (section <c>Tools:Mcp</c>), read once at start: the only programs Qlaw starts and
/// the only URLs it calls for tools. A workflow grants an agent tools by these names; it never names a command or a URL.
/// </summary>
public sealed class McpServersOptions() : Dictionary<string, McpServerOptions>(StringComparer.OrdinalIgnoreCase);

/// <summary>One MCP server (section <c>Tools:Mcp:&lt;name&gt;</c>): a program spoken to over stdio, or a streamable-HTTP URL.</summary>
public sealed class McpServerOptions
{
    /// <summary>The program to start (stdio), e.g. <c>node</c> or <c>npx</c>.</summary>
    public string? Command { get; set; }

    /// <summary>Its arguments.</summary>
    public string[] Arguments { get; set; } = [];

    /// <summary>
    /// Variables set for the program, over a minimal environment (<c>PATH</c>, <c>HOME</c> and the like): the server's
    /// own keys never pass to a tool unless named here.
    /// </summary>
    public Dictionary<string, string> Environment { get; set; } = [];

    /// <summary>The program's working directory; Qlaw's own when left out.</summary>
    public string? WorkingDirectory { get; set; }

    /// <summary>A streamable-HTTP MCP endpoint, instead of a command.</summary>
    [Url]
    public string? Url { get; set; }

    /// <summary>Headers sent to <see cref="Url"/>, each taken from the environment variable named: <c>{"Authorization": "FILES_MCP_TOKEN"}</c>.</summary>
    public Dictionary<string, string> HeaderVariables { get; set; } = [];

    /// <summary>
    /// Tools whose call may run again when a crash cut it off (reads, pure functions). A cut call of any other tool is
    /// uncertain: a person decides whether it runs again.
    /// </summary>
    public string[] IdempotentTools { get; set; } = [];

    /// <summary>How long the server may take to start and answer MCP's initialize.</summary>
    [Range(1, 600)]
    public int StartTimeoutSeconds { get; set; } = 60;
}

/// <summary>Checks every server's settings, as <c>Tools:Mcp:&lt;name&gt;:Key: message</c>.</summary>
internal sealed partial class McpServersValidator(IConfiguration configuration) : IValidateOptions<McpServersOptions>
{
    public ValidateOptionsResult Validate(string? name, McpServersOptions options)
    {
        var errors = new List<string>();
        foreach (var (server, settings) in options)
        {
            var path = $"Tools:Mcp:{server}";
            if (!ServerName().IsMatch(server))
            {
                errors.Add($"{path}: a server name uses letters, digits, '_' and '-' (at most 64), starting with a letter or digit.");
            }

            if (string.IsNullOrWhiteSpace(settings.Command) == string.IsNullOrWhiteSpace(settings.Url))
            {
                errors.Add($"{path}: give either Command (a stdio server) or Url (a streamable-HTTP server).");
            }

            errors.AddRange(QlawConfiguration.Problems(configuration.GetSection(path), settings, allowUnknownKeys: false));
            errors.AddRange(settings.HeaderVariables.Where(h => System.Environment.GetEnvironmentVariable(h.Value) is null)
                .Select(h => $"{path}:HeaderVariables:{h.Key}: the environment variable {h.Value} is not set."));
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
    private static partial Regex ServerName();
}
