using System.Runtime.InteropServices;
using Qlaw.AppHost.LocalStack;

namespace Qlaw.AppHost;

/// <summary>
/// The whole local stack with one command: PostgreSQL and Azurite with their data under .local/, then Qlaw.Server.
/// Ctrl+C stops the server first, then the rest; a server that exits by itself is restarted. The next start keeps the data.
/// </summary>
internal static class Launcher
{
    public static async Task<int> Main()
    {
        // Registered first: the children run in their own process groups, so a Ctrl+C that ended the launcher before it
        // could stop them would leave them running.
        using var stop = new CancellationTokenSource();
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            if (!stop.IsCancellationRequested)
            {
                Console.WriteLine("Stopping…");
                stop.Cancel();
            }
        }

        using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        try
        {
            var root = RepositoryRoot.Find();
            var local = Path.Combine(root, ".local");
            var url = new Uri(Environment.GetEnvironmentVariable("ASPNETCORE_URLS")?.Split(';')[0] ?? "http://127.0.0.1:5080");
            var pgPort = int.Parse(Environment.GetEnvironmentVariable("QLAW_PG_PORT") ?? "54329");

            Console.WriteLine($"Starting PostgreSQL on 127.0.0.1:{pgPort} (data in {Path.Combine(local, "postgres")})");
            await using var postgres = await LocalPostgres.StartAsync(Path.Combine(local, "postgres"), pgPort);
            Console.WriteLine("Starting Azurite on 127.0.0.1:10000-10002");
            await using var azurite = await LocalAzurite.StartAsync(root, Path.Combine(local, "azurite"), 10000, 10001, 10002);

            var settings = new Dictionary<string, string?>
            {
                ["ConnectionStrings:Postgres"] = await postgres.EnsureDatabaseAsync(),
                ["ConnectionStrings:DurableStorage"] = azurite.ConnectionString,
                ["Database:MigrateOnStartup"] = "true",
                ["Database:SeedWorkflowsPath"] = Path.Combine(root, "samples", "workflows"),

                // The offline model is paced like one that thinks and streams, so runs can be watched unfolding in the
                // run console and the QLAW CLI; QLAW__Models__Scripted__TurnDelayMs=0 (and TokenDelayMs) runs at full speed.
                ["Models:Scripted:TurnDelayMs"] = "300",
                ["Models:Scripted:TokenDelayMs"] = "15",

                // Ctrl+C must not wait for a turn or a stream to end: after 2 s the host cancels what is left (open
                // streams are cut and resumed by their clients, in-flight turns go back to the hub's queues).
                ["DOTNET_shutdownTimeoutSeconds"] = "2",
            };

            // Agents act on files through the files MCP server, in .local/workspace (the code-with-files sample).
            foreach (var (key, value) in await LocalTools.SettingsAsync(root, Path.Combine(local, "workspace")))
            {
                settings[key] = value;
            }

            // Telemetry goes to the Aspire dashboard unless QLAW_DASHBOARD=0 or an OTLP endpoint is set already.
            await using var dashboard = Environment.GetEnvironmentVariable("QLAW_DASHBOARD") == "0"
                || Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT") is { Length: > 0 }
                ? null
                : await LocalDashboard.StartAsync(18888, 18889);
            if (dashboard is not null)
            {
                Console.WriteLine($"Telemetry dashboard: {dashboard.Frontend}");
                settings["Telemetry:OtlpEndpoint"] = dashboard.Otlp.ToString();
                settings["Telemetry:Protocol"] = "grpc";
                settings["Telemetry:ServiceName"] = "qlaw-server";
            }

            Console.WriteLine($"Starting Qlaw.Server on {url}");
            Task<ServerProcess> StartServer() => ServerProcess.StartAsync(url, settings, contentRoot: Path.Combine(root, "Qlaw.Server"));
            var server = await StartServer();
            Console.WriteLine($"Qlaw is ready: run console {url}, API reference {new Uri(url, "/scalar")}. Press Ctrl+C to stop.");

            // The server stops first (the supervisor's own finally), then the dashboard, Azurite and PostgreSQL.
            return await new SupervisedServer(StartServer, maxRestarts: 5, stableAfter: TimeSpan.FromMinutes(1)).RunAsync(server, stop.Token);
        }
        catch (LocalStackException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return 1;
        }
    }
}
