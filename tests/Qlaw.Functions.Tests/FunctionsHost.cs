using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Moq;
using Qlaw.Testing;

namespace Qlaw.Functions.Tests;

/// <summary>
/// Qlaw.Functions' services exactly as its Program registers them, over a fresh database of the shared stack, with a
/// mocked <see cref="DurableTaskClient"/> that records what the triggers schedule, raise and terminate.
/// </summary>
public sealed class FunctionsHost : IAsyncDisposable
{
    private readonly IHost _host;

    private FunctionsHost(IHost host, string postgres)
    {
        _host = host;
        Postgres = postgres;
        Client.Setup(c => c.ScheduleNewOrchestrationInstanceAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<StartOrchestrationOptions?>(), It.IsAny<CancellationToken>()))
            .Callback<TaskName, object?, StartOrchestrationOptions?, CancellationToken>((name, input, options, _) => Scheduled.Add((name.Name, options!.InstanceId!, input)))
            .ReturnsAsync((TaskName _, object? _, StartOrchestrationOptions? options, CancellationToken _) => options!.InstanceId!);
        Client.Setup(c => c.GetInstanceAsync(It.IsAny<string>(), It.IsAny<bool>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((string id, bool _, CancellationToken _) => Instances.TryGetValue(id, out var status) ? new OrchestrationMetadata(RunOrchestratorName, id) { RuntimeStatus = status } : null);
    }

    public const string RunOrchestratorName = "RunOrchestrator";

    public string Postgres { get; }

    public Mock<DurableTaskClient> Client { get; } = new("test-hub");

    /// <summary>Orchestrations the triggers scheduled: name, instance id, input.</summary>
    public List<(string Name, string InstanceId, object? Input)> Scheduled { get; } = [];

    /// <summary>What the mocked hub reports for an instance id; missing ids are unknown to it.</summary>
    public Dictionary<string, OrchestrationRuntimeStatus> Instances { get; } = [];

    public IServiceProvider Services => _host.Services;

    public static async Task<FunctionsHost> StartAsync(QlawStackFixture stack, IDictionary<string, string?>? settings = null)
    {
        var postgres = await stack.CreateDatabaseAsync();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = postgres,
            ["ConnectionStrings:DurableStorage"] = stack.Azurite.ConnectionString,
            ["Database:MigrateOnStartup"] = "true",
        });
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
        builder.AddQlawFunctions();
        var host = builder.Build();
        await host.StartAsync();
        return new FunctionsHost(host, postgres);
    }

    /// <summary>An HTTP request as the Functions ASP.NET Core integration hands it to a trigger.</summary>
    public HttpRequest Request(string method, string path, string? json = null, IDictionary<string, string>? headers = null)
    {
        var scope = Services.CreateScope();
        var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        context.Connection.RemoteIpAddress = System.Net.IPAddress.Loopback;
        var request = context.Request;
        request.Method = method;
        var query = path.IndexOf('?', StringComparison.Ordinal);
        request.Path = query < 0 ? path : path[..query];
        request.QueryString = query < 0 ? QueryString.Empty : new QueryString(path[query..]);
        if (json is not null)
        {
            var bytes = Encoding.UTF8.GetBytes(json);
            request.Body = new MemoryStream(bytes);
            request.ContentLength = bytes.Length;
            request.ContentType = "application/json";
        }

        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers[name] = value;
        }

        context.Response.Body = new MemoryStream();
        context.Response.RegisterForDispose(scope);
        return request;
    }

    /// <summary>A function invocation context whose services are the host's, for activity triggers.</summary>
    public FunctionContext ActivityContext(string instanceId)
    {
        var binding = new Mock<BindingContext>();
        binding.SetupGet(b => b.BindingData).Returns(new Dictionary<string, object?> { ["instanceId"] = instanceId });
        var context = new Mock<FunctionContext>();
        context.SetupGet(c => c.InstanceServices).Returns(Services);
        context.SetupGet(c => c.BindingContext).Returns(binding.Object);
        return context.Object;
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}

/// <summary>What a trigger wrote to its response.</summary>
public sealed record TriggerResponse(int Status, string? ContentType, string Body, IHeaderDictionary Headers)
{
    public static async Task<TriggerResponse> ReadAsync(HttpRequest request)
    {
        var response = request.HttpContext.Response;
        await response.CompleteAsync();
        response.Body.Position = 0;
        return new TriggerResponse(response.StatusCode, response.ContentType, await new StreamReader(response.Body).ReadToEndAsync(), response.Headers);
    }

    public JsonElement Json => JsonDocument.Parse(Body).RootElement;
}
