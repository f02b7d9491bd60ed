using Qlaw.AppHost.LocalStack;

namespace Qlaw.Testing;

/// <summary>
/// A Node script under <c>tests/browser/</c> that drives Debian's Chromium with playwright-core (installed from the
/// repository's package-lock.json; Playwright never downloads a browser here) against a server on this machine.
/// </summary>
public static class BrowserScript
{
    /// <summary>Chromium from Debian's <c>chromium</c> package, or <c>QLAW_CHROMIUM</c>.</summary>
    public static string Chromium => Environment.GetEnvironmentVariable("QLAW_CHROMIUM") ?? "/usr/bin/chromium";

    /// <summary>Runs the script against <paramref name="baseAddress"/> and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string script, Uri baseAddress, TimeSpan timeout)
    {
        if (!File.Exists(Chromium))
        {
            throw new LocalStackException($"Chromium is missing at {Chromium}: install it with `sudo apt-get install chromium` (or set QLAW_CHROMIUM).");
        }

        var root = RepositoryRoot.Find();
        await NodePackages.EnsureInstalledAsync(root, Path.Combine("playwright-core", "package.json"));
        var environment = new Dictionary<string, string?>
        {
            ["QLAW_BASE_URL"] = baseAddress.ToString(),
            ["QLAW_CHROMIUM"] = Chromium,
            ["QLAW_BROWSER_TIMEOUT_MS"] = ((int)(timeout - TimeSpan.FromSeconds(10)).TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1",
        };
        await using var node = ManagedProcess.Start(
            "browser", "node", [Path.Combine(root, "tests", "browser", script)], environment, workingDirectory: root, echo: false);
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await node.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            return (-1, $"{script} did not finish within {timeout}:{Environment.NewLine}{node.Tail}");
        }

        // Output lines arrive asynchronously; wait briefly for the last of them after the exit.
        await Task.Delay(200);
        return (node.ExitCode, node.Tail);
    }
}
