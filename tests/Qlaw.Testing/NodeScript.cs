using Qlaw.AppHost.LocalStack;

namespace Qlaw.Testing;

/// <summary>
/// A Node script under <c>tests/</c> run against a server on this machine, with the npm packages of the repository's
/// package-lock.json: the browser scripts drive Debian's Chromium with playwright-core (Playwright never downloads a
/// browser here), the SDK scripts call Qlaw with the official OpenAI SDK.
/// </summary>
public static class NodeScript
{
    /// <summary>Chromium from Debian's <c>chromium</c> package, or <c>QLAW_CHROMIUM</c>.</summary>
    public static string Chromium => Environment.GetEnvironmentVariable("QLAW_CHROMIUM") ?? "/usr/bin/chromium";

    /// <summary>Runs <c>tests/browser/<paramref name="script"/></c> in Chromium; its exit code and output.</summary>
    public static Task<(int ExitCode, string Output)> RunBrowserAsync(string script, Uri baseAddress, TimeSpan timeout)
    {
        if (!File.Exists(Chromium))
        {
            throw new LocalStackException($"Chromium is missing at {Chromium}: install it with `sudo apt-get install chromium` (or set QLAW_CHROMIUM).");
        }

        return RunAsync(Path.Combine("browser", script), Path.Combine("playwright-core", "package.json"), baseAddress, timeout, new()
        {
            ["QLAW_CHROMIUM"] = Chromium,
            ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1",
        });
    }

    /// <summary>
    /// Runs <c>tests/<paramref name="script"/></c> (installing the locked packages when <paramref name="package"/>, a
    /// path under node_modules, is missing) with <c>QLAW_BASE_URL</c> set; its exit code and output.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(
        string script, string package, Uri baseAddress, TimeSpan timeout, Dictionary<string, string?>? environment = null)
    {
        var root = RepositoryRoot.Find();
        await NodePackages.EnsureInstalledAsync(root, package);
        environment ??= [];
        environment["QLAW_BASE_URL"] = baseAddress.ToString();
        environment["QLAW_BROWSER_TIMEOUT_MS"] = ((int)(timeout - TimeSpan.FromSeconds(10)).TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var node = ManagedProcess.Start(
            Path.GetFileNameWithoutExtension(script), "node", [Path.Combine(root, "tests", script)], environment, workingDirectory: root, echo: false);
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
