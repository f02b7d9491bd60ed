using Qlaw.FakeModel;
using Qlaw.Testing;

namespace Qlaw.Server.Tests;

/// <summary>
/// A test class's own server on the shared stack, with <paramref name="settings"/> and the workflows its
/// <see cref="InitializeAsync"/> stores.
/// </summary>
public abstract class OwnServerTests(QlawStackFixture stack, Dictionary<string, string?>? settings = null) : IAsyncLifetime
{
    protected QlawStackFixture Stack { get; } = stack;

    protected QlawApplication App { get; private set; } = null!;

    protected RunsClient Runs { get; private set; } = null!;

    public virtual async Task InitializeAsync()
    {
        App = await QlawApplication.StartAsync(Stack, settings);
        Runs = new RunsClient(App.CreateClient());
    }

    public virtual async Task DisposeAsync() => await App.DisposeAsync();
}

/// <summary>The Responses tests' server: the code-review sample and "hil", which asks for an order number.</summary>
public abstract class ResponsesServerTests(QlawStackFixture stack) : OwnServerTests(stack)
{
    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await Runs.CreateWorkflowAsync(Samples.Workflow());
        await Runs.CreateWorkflowAsync(Samples.AsksForInput());
    }
}

/// <summary>
/// A server whose OpenAI-compatible provider is a fake model on 127.0.0.1 (<see cref="Model"/>), with
/// <paramref name="settings"/> besides.
/// </summary>
public abstract class FakeModelServerTests(QlawStackFixture stack, Dictionary<string, string?> settings) : IAsyncLifetime
{
    protected QlawStackFixture Stack { get; } = stack;

    protected FakeOpenAIServer Model { get; private set; } = null!;

    protected QlawApplication App { get; private set; } = null!;

    protected RunsClient Runs { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Model = await FakeOpenAIServer.StartAsync();
        settings.TryAdd("Models:OpenAI:ApiKey", "sk-test");
        settings["Models:OpenAI:BaseUrl"] = Model.BaseUrl.ToString();
        App = await QlawApplication.StartAsync(Stack, settings);
        Runs = new RunsClient(App.CreateClient());
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await Model.DisposeAsync();
    }
}
