using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Qlaw.Core.Configuration;

/// <summary>Qlaw's configuration layers: appsettings, then a <c>config.yaml</c>, then <c>QLAW__Section__Key</c> variables.</summary>
public static class QlawConfiguration
{
    /// <summary>Environment variable naming the YAML file (the <c>--config</c> argument does the same).</summary>
    public const string FileVariable = "QLAW_CONFIG";

    /// <summary>
    /// Adds the YAML file named by <c>--config</c> or <c>QLAW_CONFIG</c> (if any; it must exist) and the
    /// <c>QLAW__</c>-prefixed environment variables over what the host already loaded.
    /// </summary>
    public static IHostApplicationBuilder AddQlawConfiguration(this IHostApplicationBuilder builder)
    {
        var path = builder.Configuration["config"] ?? Environment.GetEnvironmentVariable(FileVariable);
        if (path is { Length: > 0 })
        {
            var fullPath = Path.GetFullPath(path);
            if (!File.Exists(fullPath))
            {
                throw new FileNotFoundException($"The configuration file {fullPath} does not exist.", fullPath);
            }

            builder.Configuration.AddYamlFile(fullPath, optional: false, reloadOnChange: true);
        }

        builder.Configuration.AddEnvironmentVariables("QLAW__");
        return builder;
    }
}
