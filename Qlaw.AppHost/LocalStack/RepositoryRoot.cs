namespace Qlaw.AppHost.LocalStack;

/// <summary>Finds the repository's root folder (the one holding Qlaw.sln).</summary>
public static class RepositoryRoot
{
    public static string Find()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Qlaw.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new LocalStackException("Run this from inside the Qlaw repository (no Qlaw.sln found above the current folder).");
    }
}
