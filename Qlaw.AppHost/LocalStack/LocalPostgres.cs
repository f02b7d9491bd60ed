using Npgsql;

namespace Qlaw.AppHost.LocalStack;

/// <summary>
/// A PostgreSQL server from the system's binaries, on 127.0.0.1 only, with its data in a folder of ours.
/// PostgreSQL refuses to run as root, so as root it runs as the <c>postgres</c> user.
/// </summary>
public sealed class LocalPostgres : IAsyncDisposable
{
    private const string User = "qlaw";
    private readonly ManagedProcess _process;

    private LocalPostgres(ManagedProcess process, string dataDirectory, int port)
    {
        _process = process;
        DataDirectory = dataDirectory;
        Port = port;
    }

    public string DataDirectory { get; }

    public int Port { get; }

    public int ProcessId => _process.Id;

    /// <summary>Connection string to <paramref name="database"/> (created by migrations if missing).</summary>
    public string ConnectionString(string database = "qlaw") =>
        new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = User, Database = database }.ConnectionString;

    /// <summary>
    /// Starts PostgreSQL on <paramref name="dataDirectory"/>, creating the cluster on first use.
    /// <paramref name="durable"/> false trades crash safety for speed (throwaway test databases).
    /// </summary>
    public static async Task<LocalPostgres> StartAsync(string dataDirectory, int port, bool durable = true, bool echo = true)
    {
        var bin = FindBinaries();
        dataDirectory = Path.GetFullPath(dataDirectory);
        if (!File.Exists(Path.Combine(dataDirectory, "PG_VERSION")))
        {
            await InitializeAsync(bin, dataDirectory);
        }

        StopOrphan(dataDirectory);
        string[] settings =
        [
            "listen_addresses=127.0.0.1", "unix_socket_directories=", "max_connections=200", "logging_collector=off",
            .. durable ? Array.Empty<string>() : ["fsync=off", "synchronous_commit=off", "full_page_writes=off"],
        ];
        var process = AsPostgresUser(
            "postgres", Path.Combine(bin, "postgres"), ["-D", dataDirectory, "-p", port.ToString(), .. settings.SelectMany(s => new[] { "-c", s })],
            ManagedProcess.SigInt, echo);
        var server = new LocalPostgres(process, dataDirectory, port);
        await Network.WaitUntilAsync("PostgreSQL", server.AcceptsQueriesAsync, process, TimeSpan.FromSeconds(60));
        return server;
    }

    /// <summary>Creates <paramref name="database"/> unless it exists; returns its connection string.</summary>
    public async Task<string> EnsureDatabaseAsync(string database = "qlaw")
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
        await connection.OpenAsync();
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection) { Parameters = { new() { Value = database } } };
        if (await exists.ExecuteScalarAsync() is null)
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        return ConnectionString(database);
    }

    /// <summary>Kills the server at once, as a crash would.</summary>
    public void Kill() => _process.Kill();

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    private async Task<bool> AcceptsQueriesAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false;Timeout=2");
            await connection.OpenAsync(cancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    private static async Task InitializeAsync(string bin, string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        GiveToPostgresUser(dataDirectory);
        var initdb = AsPostgresUser(
            "initdb", Path.Combine(bin, "initdb"),
            ["-D", dataDirectory, "-U", User, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"],
            ManagedProcess.SigTerm, echo: false);
        await initdb.WaitForExitAsync();
        if (!File.Exists(Path.Combine(dataDirectory, "PG_VERSION")))
        {
            throw new LocalStackException($"initdb failed for {dataDirectory}:{Environment.NewLine}{initdb.Tail}");
        }
    }

    // A launcher killed with SIGKILL leaves its PostgreSQL running; stop it so that this start owns the server.
    private static void StopOrphan(string dataDirectory)
    {
        var pidFile = Path.Combine(dataDirectory, "postmaster.pid");
        if (!File.Exists(pidFile) || !int.TryParse(File.ReadLines(pidFile).FirstOrDefault(), out var pid))
        {
            return;
        }

        if (ManagedProcess.Signal(pid, ManagedProcess.SigInt))
        {
            for (var i = 0; i < 300 && ManagedProcess.Signal(pid, 0); i++)
            {
                Thread.Sleep(100);
            }
        }
    }

    private static string FindBinaries()
    {
        var configured = Environment.GetEnvironmentVariable("QLAW_PG_BIN");
        var candidates = configured is { Length: > 0 }
            ? [configured]
            : Directory.Exists("/usr/lib/postgresql")
                ? Directory.GetDirectories("/usr/lib/postgresql").OrderDescending().Select(d => Path.Combine(d, "bin"))
                : Enumerable.Empty<string>();
        return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "postgres")) && File.Exists(Path.Combine(d, "initdb")))
            ?? throw new LocalStackException(
                "PostgreSQL server binaries not found: install them with `sudo apt-get install postgresql` (or set QLAW_PG_BIN to their folder).");
    }

    private static bool IsRoot => Environment.UserName == "root";

    private static ManagedProcess AsPostgresUser(string name, string program, string[] arguments, int stopSignal, bool echo) =>
        IsRoot
            ? ManagedProcess.Start(name, "setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", program, .. arguments], stopSignal: stopSignal, echo: echo, workingDirectory: "/")
            : ManagedProcess.Start(name, program, arguments, stopSignal: stopSignal, echo: echo);

    private static void GiveToPostgresUser(string directory)
    {
        if (!IsRoot || OperatingSystem.IsWindows())
        {
            return;
        }

        // The server runs as postgres and must own its data folder and reach it through every parent.
        var chown = System.Diagnostics.Process.Start("chown", ["-R", "postgres:postgres", directory]);
        chown.WaitForExit();
        for (var parent = Path.GetDirectoryName(directory); parent is not null; parent = Path.GetDirectoryName(parent))
        {
            var mode = File.GetUnixFileMode(parent);
            if (!mode.HasFlag(UnixFileMode.OtherExecute))
            {
                File.SetUnixFileMode(parent, mode | UnixFileMode.OtherExecute);
            }
        }
    }
}
