using System.Net;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>The run console's files as Qlaw.Server serves them: at /, under the security headers, revalidated.</summary>
[Collection(QlawStackCollections.Streams)]
public sealed class RunConsoleTests(RunConsoleTests.Server server) : IClassFixture<RunConsoleTests.Server>
{
    private readonly HttpClient _client = server.App.CreateClient();

    /// <summary>The server the tests of the class share: they only read its static files.</summary>
    public sealed class Server : ClassServer;

    [Fact]
    public async Task The_console_page_is_served_at_the_root_under_the_content_security_policy()
    {
        var page = await _client.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<title>Qlaw run console</title>", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal("no-cache", page.Headers.CacheControl?.ToString());
    }

    [Theory]
    [InlineData("/js/main.js", "text/javascript")]
    [InlineData("/js/run-model.js", "text/javascript")]
    [InlineData("/console.css", "text/css")]
    public async Task Its_scripts_and_styles_come_from_the_same_origin(string path, string mediaType)
    {
        var asset = await _client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
        Assert.Equal(mediaType, asset.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("://", await asset.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_console_file_is_a_404_problem()
    {
        await ProblemAssert.IsProblem(await _client.GetAsync("/js/no-such-file.js"), HttpStatusCode.NotFound);
    }
}
