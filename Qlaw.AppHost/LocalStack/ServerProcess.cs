namespace Qlaw.AppHost.LocalStack;

/// <summary>Qlaw.Server as a child process (the launcher's, and crash tests' that must SIGKILL it).</summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly ManagedProcess _process;

    private ServerProcess(ManagedProcess process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public int ProcessId => _process.Id;

    /// <summary>The exit code, once the server has exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>The last lines the server printed.</summary>
    public string Output => _process.Tail;

    /// <summary>
    /// Starts the server built next to this assembly and waits until <c>/health/ready</c> answers 200.
    /// <paramref name="settings"/> are configuration keys (<c>ConnectionStrings:Postgres</c>), passed as environment variables.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(Uri baseAddress, IDictionary<string, string?> settings, bool echo = true, string? contentRoot = null)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Qlaw.Server.dll");
        if (!File.Exists(dll))
        {
            throw new LocalStackException($"Qlaw.Server.dll is missing from {AppContext.BaseDirectory}: build the solution first.");
        }

        var environment = settings.ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value);
        environment["ASPNETCORE_URLS"] = baseAddress.ToString().TrimEnd('/');
        environment.TryAdd("ASPNETCORE_ENVIRONMENT", "Development");
        var process = ManagedProcess.Start(
            "server", "dotnet", [dll], environment, workingDirectory: contentRoot ?? AppContext.BaseDirectory, echo: echo);
        var server = new ServerProcess(process, baseAddress);
        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(5) };
        await Network.WaitUntilAsync("Qlaw.Server", async ct => await IsReadyAsync(http, ct), process, TimeSpan.FromSeconds(90));
        return server;
    }

    /// <summary>Kills the server at once, as a crash would.</summary>
    public void Kill() => _process.Kill();

    public Task StopAsync() => _process.StopAsync(TimeSpan.FromSeconds(20));

    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    private static async Task<bool> IsReadyAsync(HttpClient http, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.GetAsync("/health/ready", cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
