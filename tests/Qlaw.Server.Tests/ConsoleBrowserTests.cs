using Qlaw.AppHost.LocalStack;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// The run console in a real browser (tests/browser/console.spec.mjs): a person starts the sample workflows from the
/// page, watches agents, handoffs and the origin stack live, answers, hands off, cancels, reloads, and approves a tool
/// call (the files MCP server of the launcher, on a workspace of its own). Screenshots are written to docs/screenshots/.
/// </summary>
[Collection(QlawStackCollections.LateTimings)]
public sealed class ConsoleBrowserTests(QlawStackFixture stack) : IAsyncLifetime
{
    private readonly string _workspace = Directory.CreateTempSubdirectory("qlaw-console-").FullName;
    private QlawApplication _app = null!;

    public async Task InitializeAsync()
    {
        var settings = await LocalTools.SettingsAsync(RepositoryRoot.Find(), _workspace);
        settings["Database:SeedWorkflowsPath"] = Samples.WorkflowsFolder;

        // Paced like a model that thinks and streams, so that what changes during a run can be seen changing.
        settings["Models:Scripted:TurnDelayMs"] = "300";
        settings["Models:Scripted:TokenDelayMs"] = "10";
        _app = await QlawApplication.StartAsync(stack, settings);
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        Directory.Delete(_workspace, recursive: true);
    }

    [Fact]
    public async Task A_person_runs_the_samples_from_the_console_and_watches_agents_handoffs_and_the_stack_live()
    {
        var (exitCode, output) = await NodeScript.RunBrowserAsync("console.spec.mjs", _app.CreateClient().BaseAddress!, TimeSpan.FromMinutes(3));

        Assert.True(exitCode == 0, output);
        Assert.Contains("ok - a code-review run streams planner, coder, reviewer, coder, judge", output, StringComparison.Ordinal);
        Assert.Contains("ok - a tool call awaiting approval shows its arguments", output, StringComparison.Ordinal);
        var written = Assert.Single(Directory.GetFiles(_workspace, "solution.cs", SearchOption.AllDirectories));
        Assert.Equal("static int Solve() => 42;\n", await File.ReadAllTextAsync(written));
    }
}
