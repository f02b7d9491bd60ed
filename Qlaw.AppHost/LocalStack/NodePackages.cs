namespace Qlaw.AppHost.LocalStack;

/// <summary>
/// The npm packages pinned in the repository's package.json and package-lock.json (Azurite, playwright-core), installed
/// on first use. Parallel first uses (test runs, the launcher) wait for one another instead of racing.
/// </summary>
public static class NodePackages
{
    /// <summary>
    /// Returns the full path of <paramref name="entry"/> (relative to node_modules), installing the locked packages
    /// first when it is missing: <c>npm ci</c> on a fresh clone, else <c>npm install</c>, which adds what is missing and
    /// leaves installed packages (a running Azurite's among them) in place.
    /// </summary>
    public static async Task<string> EnsureInstalledAsync(string repositoryRoot, string entry)
    {
        var path = Path.Combine(repositoryRoot, "node_modules", entry);
        if (File.Exists(path))
        {
            return path;
        }

        if (!CommandExists("node") || !CommandExists("npm"))
        {
            throw new LocalStackException("Node.js and npm are needed for Azurite and the browser test: install them with `sudo apt-get install nodejs npm`.");
        }

        using (var install = await InstallLock.AcquireAsync(repositoryRoot))
        {
            if (!File.Exists(path))
            {
                string[] arguments = Directory.Exists(Path.Combine(repositoryRoot, "node_modules"))
                    ? ["install", "--no-save", "--no-audit", "--no-fund"]
                    : ["ci", "--no-audit", "--no-fund"];
                var npm = ManagedProcess.Start("npm", "npm", arguments, workingDirectory: repositoryRoot);
                await npm.WaitForExitAsync();
                if (!File.Exists(path))
                {
                    throw new LocalStackException($"`npm {arguments[0]}` did not install {entry}:{Environment.NewLine}{npm.Tail}");
                }
            }
        }

        return path;
    }

    /// <summary>True when <paramref name="name"/> is an executable file on the PATH.</summary>
    public static bool CommandExists(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => dir.Length > 0 && File.Exists(Path.Combine(dir, name)));

    private sealed class InstallLock : IDisposable
    {
        private readonly FileStream _file;

        private InstallLock(FileStream file) => _file = file;

        public static async Task<InstallLock> AcquireAsync(string repositoryRoot)
        {
            var path = Path.Combine(repositoryRoot, ".local", "npm-install.lock");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    return new InstallLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
                }
                catch (IOException) when (attempt < 1200)
                {
                    await Task.Delay(100);
                }
            }
        }

        public void Dispose() => _file.Dispose();
    }
}
