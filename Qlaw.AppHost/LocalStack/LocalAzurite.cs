namespace Qlaw.AppHost.LocalStack;

/// <summary>
/// Azurite, the Azure Storage emulator (npm package pinned in the repository's package.json), on 127.0.0.1 only, as one
/// Node.js process per service — blob (the hub's leases and large messages), queue (its control and work-item queues)
/// and table (its history and instances, the tracking store) — so that the hub's queue and table traffic, each bound by
/// one Node.js thread, do not wait on each other. It is installed on first use (<see cref="NodePackages"/>).
/// </summary>
public sealed class LocalAzurite : IAsyncDisposable
{
    /// <summary>The emulator's well-known development account key (public, documented by Microsoft).</summary>
    private const string DevelopmentKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly IReadOnlyList<ManagedProcess> _processes;

    private LocalAzurite(IReadOnlyList<ManagedProcess> processes, int blobPort, int queuePort, int tablePort)
    {
        _processes = processes;
        BlobPort = blobPort;
        QueuePort = queuePort;
        TablePort = tablePort;
    }

    public int BlobPort { get; }

    public int QueuePort { get; }

    public int TablePort { get; }

    /// <summary>The emulator's Node.js processes (one per service, or one for all).</summary>
    public IReadOnlyList<int> ProcessIds => [.. _processes.Select(p => p.Id)];

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DevelopmentKey};" +
        $"BlobEndpoint=http://127.0.0.1:{BlobPort}/devstoreaccount1;" +
        $"QueueEndpoint=http://127.0.0.1:{QueuePort}/devstoreaccount1;" +
        $"TableEndpoint=http://127.0.0.1:{TablePort}/devstoreaccount1;";

    /// <summary>
    /// Starts Azurite's three services on their ports; with a <paramref name="dataDirectory"/> their data survives
    /// restarts, without one it lives in memory. <paramref name="oneProcess"/> runs all three in one Node.js process,
    /// as the <c>azurite</c> command does (the bench compares both). With a <paramref name="debugLogDirectory"/> each
    /// process writes Azurite's debug log (every request) there.
    /// </summary>
    public static async Task<LocalAzurite> StartAsync(
        string repositoryRoot, string? dataDirectory, int blobPort, int queuePort, int tablePort, bool echo = true, bool oneProcess = false,
        string? debugLogDirectory = null)
    {
        var entry = await NodePackages.EnsureInstalledAsync(repositoryRoot, Path.Combine("azurite", "dist", "src", "azurite.js"));
        List<string> common = ["--disableTelemetry", "--silent", "--skipApiVersionCheck", "--loose"];
        if (dataDirectory is null)
        {
            common.Add("--inMemoryPersistence");
        }
        else
        {
            Directory.CreateDirectory(dataDirectory);
            common.AddRange(["--location", Path.GetFullPath(dataDirectory)]);
        }

        (string Service, int Port)[] services = [("blob", blobPort), ("queue", queuePort), ("table", tablePort)];
        if (debugLogDirectory is not null)
        {
            Directory.CreateDirectory(debugLogDirectory);
        }

        string[] Debug(string name) => debugLogDirectory is null ? [] : ["--debug", Path.Combine(Path.GetFullPath(debugLogDirectory), $"{name}.log")];
        var processes = new List<ManagedProcess>();
        if (oneProcess)
        {
            processes.Add(ManagedProcess.Start(
                "azurite", "node", [entry, .. services.SelectMany(s => Listen(s.Service, s.Port)), .. common, .. Debug("azurite")],
                workingDirectory: repositoryRoot, echo: echo));
        }
        else
        {
            // Each service's own entry point (the azurite-blob, -queue and -table commands), next to azurite.js.
            var folder = Path.GetDirectoryName(entry)!;
            processes.AddRange(services.Select(s => ManagedProcess.Start(
                $"azurite-{s.Service}", "node", [Path.Combine(folder, s.Service, "main.js"), .. Listen(s.Service, s.Port), .. common, .. Debug(s.Service)],
                workingDirectory: repositoryRoot, echo: echo)));
        }

        var azurite = new LocalAzurite(processes, blobPort, queuePort, tablePort);
        try
        {
            for (var i = 0; i < services.Length; i++)
            {
                var (service, port) = services[i];
                await Network.WaitUntilAsync(
                    $"Azurite ({service})", ct => Network.IsListeningAsync(port, ct), processes[oneProcess ? 0 : i], TimeSpan.FromSeconds(60));
            }
        }
        catch
        {
            await azurite.DisposeAsync();
            throw;
        }

        return azurite;
    }

    /// <summary>Kills the emulator at once, as a crash would.</summary>
    public void Kill()
    {
        foreach (var process in _processes)
        {
            process.Kill();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }
    }

    private static string[] Listen(string service, int port) => [$"--{service}Host", "127.0.0.1", $"--{service}Port", port.ToString()];
}
