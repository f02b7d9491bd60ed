using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Qlaw.AppHost.LocalStack;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>The documentation keeps up with the code: every route is in the API guide, every link resolves.</summary>
[Collection(QlawStackCollections.Api)]
public sealed partial class DocumentationTests(QlawStackFixture stack)
{
    private static readonly string Root = RepositoryRoot.Find();

    [Fact]
    public async Task The_api_guide_lists_every_route_of_the_openapi_document()
    {
        await using var app = await QlawApplication.StartAsync(stack);
        var document = JsonNode.Parse(await app.CreateClient().GetStringAsync("/openapi/v1.json"))!;
        var guide = await File.ReadAllTextAsync(Path.Combine(Root, "docs", "api.md"));

        var routes = document["paths"]!.AsObject()
            .SelectMany(path => path.Value!.AsObject().Select(method => $"`{method.Key.ToUpperInvariant()} {path.Key}`"))
            .ToList();

        Assert.True(routes.Count >= 15, string.Join(", ", routes));
        Assert.All(routes, route => Assert.Contains(route, guide, StringComparison.Ordinal));
    }

    [Fact]
    public void Every_relative_link_of_the_readme_and_docs_points_to_a_file_of_the_repository()
    {
        var pages = Directory.GetFiles(Path.Combine(Root, "docs"), "*.md").Append(Path.Combine(Root, "README.md"));

        var broken = pages.SelectMany(page => RelativeLink().Matches(File.ReadAllText(page))
                .Select(link => link.Groups["target"].Value)
                .Where(target => !target.StartsWith("http", StringComparison.Ordinal) && !target.StartsWith('#'))
                .Where(target =>
                {
                    var path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, target.Split('#')[0]));
                    return !File.Exists(path) && !Directory.Exists(path);
                })
                .Select(target => $"{Path.GetFileName(page)} → {target}"))
            .ToList();

        Assert.Empty(broken);
    }

    [GeneratedRegex(@"\]\((?<target>[^)\s]+)\)")]
    private static partial Regex RelativeLink();
}
