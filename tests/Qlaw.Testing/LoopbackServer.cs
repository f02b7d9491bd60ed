using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using Qlaw.AppHost.LocalStack;

namespace Qlaw.Testing;

/// <summary>A small quiet web app on a free 127.0.0.1 port, for the fake servers tests talk to.</summary>
internal static class LoopbackServer
{
    /// <summary>Builds the app and its base address; the caller maps its routes and starts it.</summary>
    public static (WebApplication App, Uri Address) Create()
    {
        var port = Network.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        return (builder.Build(), new Uri($"http://127.0.0.1:{port}"));
    }
}
