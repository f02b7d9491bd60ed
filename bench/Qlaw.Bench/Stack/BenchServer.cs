using System.Net;
using Qlaw.AppHost.LocalStack;

namespace Qlaw.Bench.Stack;

/// <summary>Qlaw.Server as a child process on a free port, with an HTTP client sized for thousands of streams.</summary>
internal sealed class BenchServer : IAsyncDisposable
{
    private ServerProcess _process;
    private readonly IDictionary<string, string?> _settings;

    private BenchServer(ServerProfile profile, IDictionary<string, string?> settings, ServerProcess process)
    {
        Profile = profile;
        _settings = settings;
        _process = process;
        Http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = int.MaxValue,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
        })
        {
            BaseAddress = process.BaseAddress,
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public ServerProfile Profile { get; }

    public HttpClient Http { get; }

    public int ProcessId => _process.ProcessId;

    /// <summary>Copy the server's output to this console (<c>--echo-server</c>), for diagnosing a scenario.</summary>
    public static bool Echo { get; set; }

    public static async Task<BenchServer> StartAsync(ServerProfile profile, IDictionary<string, string?> settings)
    {
        var url = new Uri($"http://127.0.0.1:{Network.FreePort()}");
        var process = await ServerProcess.StartAsync(url, settings, echo: Echo);
        return new BenchServer(profile, settings, process);
    }

    /// <summary>SIGKILL, as a crash would; <see cref="RestartAsync"/> brings it back on the same port, hub and worker id.</summary>
    public void Kill() => _process.Kill();

    public async Task RestartAsync()
    {
        await _process.DisposeAsync();
        _process = await ServerProcess.StartAsync(_process.BaseAddress, _settings, echo: Echo);
    }

    /// <summary>A setting the server was started with (null when not given).</summary>
    public string? Setting(string key) => _settings.TryGetValue(key, out var value) ? value : null;

    /// <summary>The server's last lines of output, for a failure message.</summary>
    public string Output => _process.Output;

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _process.DisposeAsync();
    }
}
