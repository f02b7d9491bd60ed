namespace Qlaw.AppHost.LocalStack;

/// <summary>
/// Azurite, the Azure Storage emulator (npm package pinned in the repository's package.json), on 127.0.0.1 only.
/// It is installed on first use (<see cref="NodePackages"/>).
/// </summary>
public sealed class LocalAzurite : IAsyncDisposable
{
    /// <summary>The emulator's well-known development account key (public, documented by Microsoft).</summary>
    private const string DevelopmentKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly ManagedProcess _process;

    private LocalAzurite(ManagedProcess process, int blobPort, int queuePort, int tablePort)
    {
        _process = process;
        BlobPort = blobPort;
        QueuePort = queuePort;
        TablePort = tablePort;
    }

    public int BlobPort { get; }

    public int QueuePort { get; }

    public int TablePort { get; }

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DevelopmentKey};" +
        $"BlobEndpoint=http://127.0.0.1:{BlobPort}/devstoreaccount1;" +
        $"QueueEndpoint=http://127.0.0.1:{QueuePort}/devstoreaccount1;" +
        $"TableEndpoint=http://127.0.0.1:{TablePort}/devstoreaccount1;";

    /// <summary>
    /// Starts Azurite on three ports; with a <paramref name="dataDirectory"/> its data survives restarts, without one it
    /// lives in memory.
    /// </summary>
    public static async Task<LocalAzurite> StartAsync(
        string repositoryRoot, string? dataDirectory, int blobPort, int queuePort, int tablePort, bool echo = true)
    {
        var entry = await NodePackages.EnsureInstalledAsync(repositoryRoot, Path.Combine("azurite", "dist", "src", "azurite.js"));
        List<string> arguments =
        [
            entry, "--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
            "--blobPort", blobPort.ToString(), "--queuePort", queuePort.ToString(), "--tablePort", tablePort.ToString(),
            "--disableTelemetry", "--silent", "--skipApiVersionCheck", "--loose",
        ];
        if (dataDirectory is null)
        {
            arguments.Add("--inMemoryPersistence");
        }
        else
        {
            Directory.CreateDirectory(dataDirectory);
            arguments.AddRange(["--location", Path.GetFullPath(dataDirectory)]);
        }

        var process = ManagedProcess.Start("azurite", "node", arguments, workingDirectory: repositoryRoot, echo: echo);
        var azurite = new LocalAzurite(process, blobPort, queuePort, tablePort);
        await Network.WaitUntilAsync(
            "Azurite",
            async ct => await Network.IsListeningAsync(queuePort, ct) && await Network.IsListeningAsync(tablePort, ct) && await Network.IsListeningAsync(blobPort, ct),
            process,
            TimeSpan.FromSeconds(60));
        return azurite;
    }

    /// <summary>Kills the emulator at once, as a crash would.</summary>
    public void Kill() => _process.Kill();

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
