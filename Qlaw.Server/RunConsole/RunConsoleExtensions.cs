namespace Qlaw.Server.RunConsole;

/// <summary>The run console: a static page (wwwroot, no build step) that drives and watches runs through the /v1 API.</summary>
public static class RunConsoleExtensions
{
    /// <summary>
    /// Serves <c>wwwroot/index.html</c> at <c>/</c> and the console's scripts and styles. Browsers revalidate every
    /// asset (ETag), so a new version shows on the next load.
    /// </summary>
    public static IApplicationBuilder UseQlawRunConsole(this IApplicationBuilder app)
    {
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions
        {
            OnPrepareResponse = file => file.Context.Response.Headers.CacheControl = "no-cache",
        });
        return app;
    }
}
