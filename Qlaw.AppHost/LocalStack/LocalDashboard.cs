using System.Reflection;

namespace Qlaw.AppHost.LocalStack;

/// <summary>
/// The Aspire dashboard (NuGet package Aspire.Dashboard.Sdk, a self-contained program) on 127.0.0.1: it receives the
/// server's OpenTelemetry traces, metrics and logs over OTLP and shows them in a browser. Local use only, so it runs
/// without authentication and keeps its data in memory.
/// </summary>
public sealed class LocalDashboard : IAsyncDisposable
{
    private readonly ManagedProcess _process;

    private LocalDashboard(ManagedProcess process, Uri frontend, Uri otlp)
    {
        _process = process;
        Frontend = frontend;
        Otlp = otlp;
    }

    /// <summary>The dashboard's web page.</summary>
    public Uri Frontend { get; }

    /// <summary>Its OTLP/gRPC endpoint, for the server's <c>Telemetry:OtlpEndpoint</c>.</summary>
    public Uri Otlp { get; }

    /// <summary>Where the build put the dashboard program; null when the package has none for this platform.</summary>
    public static string? ProgramPath =>
        typeof(LocalDashboard).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "AspireDashboardPath")?.Value is { Length: > 0 } path && File.Exists(path) ? path : null;

    /// <summary>Starts the dashboard and waits until its page answers; null when this platform has no dashboard program.</summary>
    public static async Task<LocalDashboard?> StartAsync(int frontendPort, int otlpPort)
    {
        if (ProgramPath is not { } program)
        {
            return null;
        }

        var frontend = new Uri($"http://127.0.0.1:{frontendPort}");
        var otlp = new Uri($"http://127.0.0.1:{otlpPort}");
        var process = ManagedProcess.Start("dashboard", program, [], new Dictionary<string, string?>
        {
            ["ASPNETCORE_URLS"] = frontend.ToString().TrimEnd('/'),
            ["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = otlp.ToString().TrimEnd('/'),
            ["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true",
            ["DOTNET_ENVIRONMENT"] = "Production",
        }, echo: false);
        await Network.WaitUntilAsync("Aspire dashboard", ct => Network.IsListeningAsync(otlpPort, ct), process, TimeSpan.FromSeconds(60));
        await Network.WaitUntilAsync("Aspire dashboard", ct => Network.IsListeningAsync(frontendPort, ct), process, TimeSpan.FromSeconds(60));
        return new LocalDashboard(process, frontend, otlp);
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
