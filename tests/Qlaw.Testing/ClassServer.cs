namespace Qlaw.Testing;

/// <summary>
/// One Qlaw server the tests of a class share (an xunit class fixture), on a database of its own on the shared stack,
/// started with <paramref name="settings"/> over the test defaults. For classes whose tests keep to their own runs or
/// only read; a test that needs a server of its own starts one.
/// </summary>
public class ClassServer(IDictionary<string, string?>? settings = null) : IAsyncLifetime
{
    private readonly QlawStackFixture _stack = new();

    public QlawApplication App { get; private set; } = null!;

    public virtual async Task InitializeAsync()
    {
        await _stack.InitializeAsync();
        App = await QlawApplication.StartAsync(_stack, settings);
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await _stack.DisposeAsync();
    }
}
