using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Qlaw.Core.Tools;

/// <summary>
/// The process's connections to its MCP servers (<see cref="McpServersOptions"/>): each started on first use, shared
/// by every turn, started again after it dies, and stopped with the host.
/// </summary>
public sealed partial class McpServers(IOptions<McpServersOptions> settings, ILoggerFactory loggers) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<Task<Connection>>> _connections = new(StringComparer.OrdinalIgnoreCase);
    private readonly ILogger _logger = loggers.CreateLogger<McpServers>();

    /// <summary>Whether the operator configured <paramref name="server"/>.</summary>
    public bool Has(string server) => settings.Value.ContainsKey(server);

    /// <summary>Whether a cut-off call of <paramref name="tool"/> may simply run again.</summary>
    public bool IsIdempotent(string server, string tool) =>
        settings.Value.TryGetValue(server, out var options) && options.IdempotentTools.Contains(tool, StringComparer.Ordinal);

    /// <summary>The tools <paramref name="server"/> offers, listed once per connection.</summary>
    public async Task<IReadOnlyList<McpClientTool>> ToolsAsync(string server, CancellationToken cancellationToken) =>
        (await ConnectAsync(server, cancellationToken)).Tools;

    /// <summary>Calls <paramref name="tool"/>; a server that died is started again for the next call.</summary>
    public async Task<CallToolResult> CallAsync(string server, string tool, IReadOnlyDictionary<string, object?> arguments, CancellationToken cancellationToken)
    {
        var connection = await ConnectAsync(server, cancellationToken);
        try
        {
            return await connection.Client.CallToolAsync(tool, arguments, cancellationToken: cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && connection.Client.Completion.IsCompleted)
        {
            LogServerDied(_logger, server, ex);
            await DropAsync(server, connection);
            throw;
        }
    }

    private async Task<Connection> ConnectAsync(string server, CancellationToken cancellationToken)
    {
        var options = settings.Value.TryGetValue(server, out var found) ? found : throw new ArgumentException($"No MCP server '{server}' is configured.", nameof(server));
        var lazy = _connections.GetOrAdd(server, name => new(() => StartAsync(name, options)));
        Connection connection;
        try
        {
            connection = await lazy.Value.WaitAsync(cancellationToken);
        }
        catch (Exception) when (lazy.Value.IsFaulted)
        {
            // A server that failed to start is tried again by the next turn that needs it.
            _connections.TryRemove(new(server, lazy));
            throw;
        }

        if (connection.Client.Completion.IsCompleted)
        {
            await DropAsync(server, connection);
            return await ConnectAsync(server, cancellationToken);
        }

        return connection;
    }

    private async Task<Connection> StartAsync(string server, McpServerOptions options)
    {
        IClientTransport transport = options.Url is { Length: > 0 } url
            ? new HttpClientTransport(new HttpClientTransportOptions
            {
                Name = server,
                Endpoint = new Uri(url),
                TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = options.HeaderVariables.ToDictionary(h => h.Key, h => System.Environment.GetEnvironmentVariable(h.Value) ?? ""),
            }, loggers)
            : new StdioClientTransport(new StdioClientTransportOptions
            {
                Name = server,
                Command = options.Command!,
                Arguments = options.Arguments,
                WorkingDirectory = options.WorkingDirectory,
                InheritEnvironmentVariables = false,
                EnvironmentVariables = Environment(options),
            }, loggers);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(options.StartTimeoutSeconds));
        var client = await McpClient.CreateAsync(transport, new McpClientOptions { ClientInfo = new() { Name = "qlaw", Version = "1.0" } }, loggers, timeout.Token);
        try
        {
            var tools = await client.ListToolsAsync(cancellationToken: timeout.Token);
            LogServerStarted(_logger, server, tools.Count);
            return new Connection(client, [.. tools]);
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    private static Dictionary<string, string?> Environment(McpServerOptions options)
    {
        var environment = StdioClientTransportOptions.GetDefaultEnvironmentVariables();
        foreach (var (name, value) in options.Environment)
        {
            environment[name] = value;
        }

        return environment;
    }

    private async Task DropAsync(string server, Connection connection)
    {
        if (_connections.TryGetValue(server, out var lazy) && lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully && ReferenceEquals(lazy.Value.Result, connection))
        {
            _connections.TryRemove(new(server, lazy));
        }

        await connection.Client.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var lazy in _connections.Values.Where(l => l.IsValueCreated))
        {
            if (lazy.Value.IsCompletedSuccessfully)
            {
                await lazy.Value.Result.Client.DisposeAsync();
            }
        }

        _connections.Clear();
    }

    private sealed record Connection(McpClient Client, IReadOnlyList<McpClientTool> Tools);

    [LoggerMessage(Level = LogLevel.Information, Message = "Started MCP server {Server}: {Tools} tools")]
    private static partial void LogServerStarted(ILogger logger, string server, int tools);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MCP server {Server} stopped during a call; it starts again for the next one")]
    private static partial void LogServerDied(ILogger logger, string server, Exception exception);
}
