using System.Diagnostics.Metrics;
using System.Text.Json;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Qlaw.AppHost.LocalStack;
using Qlaw.Core.Telemetry;
using Qlaw.Functions.Orchestration;
using Qlaw.Testing;

namespace Qlaw.Functions.Tests;

/// <summary>What the Functions host is given to fit its plan: a timeout for long turns, a recovery cadence that lets
/// the app scale to zero, and Qlaw's own telemetry in Application Insights.</summary>
public sealed class FunctionsSettingsTests
{
    [Fact]
    public void Host_json_gives_a_function_an_hour_which_outlasts_any_http_call_and_a_long_agent_turn()
    {
        var timeout = TimeSpan.Parse(HostJson().GetProperty("functionTimeout").GetString()!, System.Globalization.CultureInfo.InvariantCulture);

        // Flex Consumption's default is 30 minutes; the front end ends an HTTP response after about 230 s anyway.
        Assert.Equal(TimeSpan.FromHours(1), timeout);
    }

    [Fact]
    public void Host_json_turns_the_app_lease_off_so_a_failed_lease_renewal_cannot_stop_the_hub_for_minutes()
    {
        // With the lease, one failed renewal (a storage blip) stops the host's partitions and the lease is asked for
        // again only every 5 minutes; Qlaw.Server runs without it too (Durable:AppLease, AzuriteKillTests).
        Assert.False(HostJson().GetProperty("extensions").GetProperty("durableTask").GetProperty("useAppLease").GetBoolean());
    }

    [Fact]
    public void The_recovery_timer_reads_its_schedule_from_an_app_setting_that_the_local_sample_sets()
    {
        var recovery = RouteTableTests.Metadata().Single(f => f.GetProperty("name").GetString() == nameof(RecoveryFunctions.RecoverRuns));
        var trigger = recovery.GetProperty("bindings").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "timerTrigger");

        Assert.Equal($"%{RecoveryFunctions.ScheduleSetting}%", trigger.GetProperty("schedule").GetString());
        var sample = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot.Find(), "local.settings.sample.json"))).RootElement;
        Assert.False(string.IsNullOrWhiteSpace(sample.GetProperty("Values").GetProperty(RecoveryFunctions.ScheduleSetting).GetString()));
    }

    [Fact]
    public async Task With_an_application_insights_connection_string_qlaw_spans_and_metrics_reach_azure_monitor()
    {
        // Statsbeat would report to Microsoft's own endpoint: nothing leaves 127.0.0.1 in tests.
        Environment.SetEnvironmentVariable("APPLICATIONINSIGHTS_STATSBEAT_DISABLED", "true");

        // The exporter samples at most 5 traces a second by default, counting every qlaw span in this process (other
        // test classes run hosts beside this one), so the one span here could be sampled out: keep every trace, as
        // docs/operations.md tells an operator to when they want them all.
        Environment.SetEnvironmentVariable("OTEL_TRACES_SAMPLER", "microsoft.fixed_percentage");
        Environment.SetEnvironmentVariable("OTEL_TRACES_SAMPLER_ARG", "1.0");
        await using var ingestion = await FakeAzureMonitorIngestion.StartAsync();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = "Host=127.0.0.1;Port=1",
            ["ConnectionStrings:DurableStorage"] = "UseDevelopmentStorage=true",
            ["APPLICATIONINSIGHTS_CONNECTION_STRING"] = ingestion.ConnectionString,
        });
        builder.AddQlawFunctions();
        using var host = builder.Build();
        var tracer = host.Services.GetRequiredService<TracerProvider>();
        var meters = host.Services.GetRequiredService<MeterProvider>();

        using (var turn = QlawTelemetry.Source.StartActivity("qlaw.agent_turn"))
        {
            turn?.SetTag("qlaw.run_id", "r-1");
        }

        using var meter = new Meter(QlawTelemetry.Name);
        meter.CreateCounter<long>("qlaw.runs.started").Add(1);
        Assert.True(tracer.ForceFlush());
        Assert.True(meters.ForceFlush());

        Assert.True(ingestion.Received("qlaw.agent_turn"), "The agent-turn span was not exported.");
        Assert.True(ingestion.Received("qlaw.runs.started"), "The Qlaw meter's counter was not exported.");
    }

    [Fact]
    public void A_queue_endpoint_as_durable_storage_is_reached_with_the_apps_identity_not_a_key()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = "Host=127.0.0.1;Port=1",
            ["ConnectionStrings:DurableStorage"] = "https://qlawstorage.queue.core.windows.net/",
        });
        builder.AddQlawFunctions();
        using var host = builder.Build();

        var queues = host.Services.GetRequiredService<QueueServiceClient>();

        Assert.Equal(("qlawstorage", new Uri("https://qlawstorage.queue.core.windows.net/")), (queues.AccountName, queues.Uri));
        Assert.False(queues.CanGenerateAccountSasUri);
    }

    [Fact]
    public void Without_an_application_insights_connection_string_nothing_is_exported()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = "Host=127.0.0.1;Port=1",
            ["ConnectionStrings:DurableStorage"] = "UseDevelopmentStorage=true",
        });
        builder.AddQlawFunctions();
        using var host = builder.Build();

        Assert.Null(host.Services.GetService<TracerProvider>());
        Assert.Null(host.Services.GetService<MeterProvider>());
    }

    private static JsonElement HostJson() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot.Find(), "host.json"))).RootElement;
}
