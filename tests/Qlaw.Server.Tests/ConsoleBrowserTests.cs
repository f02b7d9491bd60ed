using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// The run console in a real browser (tests/browser/console.spec.mjs): a person starts the sample workflows from the
/// page, watches agents, handoffs and the origin stack live, answers, hands off, cancels and reloads. Screenshots are
/// written to docs/screenshots/.
/// </summary>
[Collection(QlawStackCollections.LateTimings)]
public sealed class ConsoleBrowserTests(QlawStackFixture stack) : IAsyncLifetime
{
    private QlawApplication _app = null!;

    public async Task InitializeAsync() =>
        _app = await QlawApplication.StartAsync(stack, new Dictionary<string, string?>
        {
            ["Database:SeedWorkflowsPath"] = Samples.WorkflowsFolder,

            // Paced like a model that thinks and streams, so that what changes during a run can be seen changing.
            ["Models:Scripted:TurnDelayMs"] = "300",
            ["Models:Scripted:TokenDelayMs"] = "10",
        });

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task A_person_runs_the_samples_from_the_console_and_watches_agents_handoffs_and_the_stack_live()
    {
        var (exitCode, output) = await NodeScript.RunBrowserAsync("console.spec.mjs", _app.CreateClient().BaseAddress!, TimeSpan.FromMinutes(3));

        Assert.True(exitCode == 0, output);
        Assert.Contains("ok - a code-review run streams planner, coder, reviewer, coder, judge", output, StringComparison.Ordinal);
    }
}
