using System.Diagnostics;
using System.Reflection;

namespace Qlaw.Core.Tests.Infra;

/// <summary>
/// The Bicep compiler from the NuGet package Azure.Bicep.CommandLine.linux-x64, run on the repository's infra/ folder.
/// Always with --no-restore: the templates use no registry modules, and without it the compiler looks up the public
/// module index on the network.
/// </summary>
internal static class Bicep
{
    public static string InfraFolder { get; } = Metadata("InfraFolder")!;

    /// <summary>The compiler program; null on a platform its package does not exist for (it is linux-x64 only).</summary>
    public static string? Program { get; } = Metadata("BicepProgram") is { } path && File.Exists(path) ? path : null;

    public static async Task<BicepResult> RunAsync(string command, string file, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(Program ?? throw new InvalidOperationException("No Bicep compiler for this platform."))
        {
            WorkingDirectory = InfraFolder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { command, file, "--no-restore" }.Concat(command == "lint" ? [] : ["--stdout"]))
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var errors = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bicep {command} {file} did not finish within 120 s.");
        }

        return new BicepResult(process.ExitCode, await output, await errors);
    }

    private static string? Metadata(string key) =>
        typeof(Bicep).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value;
}

/// <summary>What one bicep command printed; diagnostics (warnings and errors) go to standard error.</summary>
internal sealed record BicepResult(int ExitCode, string Output, string Errors);

/// <summary>A fact that needs the Bicep compiler: skipped, saying why, where its package does not exist.</summary>
internal sealed class BicepFactAttribute : FactAttribute
{
    public BicepFactAttribute()
    {
        if (Bicep.Program is null)
        {
            Skip = "No Bicep compiler in this build: the NuGet package Azure.Bicep.CommandLine.linux-x64 is referenced on "
                + $"linux-x64 only, and this machine is {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier}.";
        }
    }
}
