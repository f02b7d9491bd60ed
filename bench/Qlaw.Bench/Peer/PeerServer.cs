using System.Net;
using Qlaw.AppHost.LocalStack;
using Qlaw.Bench.Clients;

namespace Qlaw.Bench.Peer;

/// <summary>
/// The LangGraph.js API server of bench/peer/ (the in-memory server <c>langgraphjs dev</c> runs) as a child process on
/// 127.0.0.1 and a free port. Its packages are installed from bench/peer/package-lock.json on first use, apart from the
/// repository's own; tracing, analytics and the browser are off, so it calls no other host.
/// </summary>
internal sealed class PeerServer : IAsyncDisposable
{
    private readonly string _folder;
    private readonly int _port;
    private readonly PeerOptions _options;
    private ManagedProcess _process;

    private PeerServer(string folder, int port, PeerOptions options, ManagedProcess process)
    {
        _folder = folder;
        _port = port;
        _options = options;
        _process = process;
        Http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, UseProxy = false, AutomaticDecompression = DecompressionMethods.None })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}"),
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public HttpClient Http { get; }

    public int ProcessId => _process.Id;

    /// <summary>Installs the peer if needed and starts it with empty storage (the dev server reloads what it last flushed).</summary>
    public static async Task<PeerServer> StartAsync(string repository, bool echo, PeerOptions? options = null)
    {
        options ??= new PeerOptions();
        var folder = Path.Combine(repository, "bench", "peer");
        await InstallAsync(folder, echo);
        var storage = Path.Combine(folder, ".langgraph_api");
        if (Directory.Exists(storage))
        {
            Directory.Delete(storage, recursive: true);
        }

        var port = Network.FreePort();
        return new PeerServer(folder, port, options, await LaunchAsync(folder, port, options, echo));
    }

    /// <summary>SIGKILL, as a crash would; <see cref="RestartAsync"/> starts it again on the same port and storage.</summary>
    public void Kill() => _process.Kill();

    public async Task RestartAsync(bool echo)
    {
        await _process.DisposeAsync();
        _process = await LaunchAsync(_folder, _port, _options, echo);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _process.DisposeAsync();
    }

    private static async Task<ManagedProcess> LaunchAsync(string folder, int port, PeerOptions options, bool echo)
    {
        var environment = new Dictionary<string, string?>
        {
            ["LANGSMITH_TRACING"] = "false",
            ["LANGSMITH_TRACING_V2"] = "false",
            ["LANGCHAIN_TRACING"] = "false",
            ["LANGCHAIN_TRACING_V2"] = "false",
            ["LANGGRAPH_CLI_NO_ANALYTICS"] = "1",
            ["BROWSER"] = "none",
            ["NODE_ENV"] = "development",
            ["PACED_MODEL_URL"] = options.PacedModelUrl?.ToString(),
        };
        var process = ManagedProcess.Start(
            "langgraph.js", "node", ["server.mjs", port.ToString(System.Globalization.CultureInfo.InvariantCulture), options.Workers.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            environment, folder, echo: echo);
        await Network.WaitUntilAsync("The LangGraph.js server", ct => Network.IsListeningAsync(port, ct), process, TimeSpan.FromSeconds(60));
        return process;
    }

    private static async Task InstallAsync(string folder, bool echo)
    {
        // Every package the graphs import: an install made before one was added is brought up to the lock file.
        if (Directory.Exists(Path.Combine(folder, "node_modules", "@langchain", "langgraph-api")) && Directory.Exists(Path.Combine(folder, "node_modules", "@langchain", "openai")))
        {
            return;
        }

        if (!NodePackages.CommandExists("npm"))
        {
            throw new BenchException("The peer scenario needs Node.js and npm (`sudo apt-get install nodejs npm`).");
        }

        var npm = ManagedProcess.Start("npm", "npm", ["ci", "--no-audit", "--no-fund"], workingDirectory: folder, echo: echo);
        await npm.WaitForExitAsync();
        if (npm.ExitCode != 0)
        {
            throw new BenchException($"`npm ci` in bench/peer failed:{Environment.NewLine}{npm.Tail}");
        }
    }
}

/// <summary>
/// How the peer server runs: its workers (runs in flight at once; the dev server's default is 10) and the URL of the
/// paced model its <c>paced</c> graph calls.
/// </summary>
internal sealed record PeerOptions(int Workers = 10, Uri? PacedModelUrl = null);
