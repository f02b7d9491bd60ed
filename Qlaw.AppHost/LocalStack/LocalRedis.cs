namespace Qlaw.AppHost.LocalStack;

/// <summary>
/// A Redis server from the system's binaries, on 127.0.0.1 only, keeping nothing on disk (no snapshots, no append-only
/// file): a cache that starts empty every time.
/// </summary>
public sealed class LocalRedis : IAsyncDisposable
{
    private readonly ManagedProcess _process;

    private LocalRedis(ManagedProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>StackExchange.Redis connection string of this server.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    /// <summary>Starts <c>redis-server</c> on <paramref name="port"/> and waits until it accepts connections.</summary>
    public static async Task<LocalRedis> StartAsync(int port, bool echo = true)
    {
        var binary = FindBinary();
        var process = ManagedProcess.Start(
            "redis", binary, ["--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            workingDirectory: Path.GetTempPath(), echo: echo);
        var redis = new LocalRedis(process, port);
        await Network.WaitUntilAsync("Redis", ct => Network.IsListeningAsync(port, ct), process, TimeSpan.FromSeconds(30));
        return redis;
    }

    /// <summary>Kills the server at once, as a crash would.</summary>
    public void Kill() => _process.Kill();

    /// <summary>Waits until the server has exited, for example after <see cref="Kill"/>.</summary>
    public Task WaitForExitAsync() => _process.WaitForExitAsync();

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    private static string FindBinary() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Select(dir => Path.Combine(dir, "redis-server"))
            .FirstOrDefault(File.Exists)
        ?? throw new LocalStackException("redis-server not found: install it with `sudo apt-get install redis-server`.");
}
