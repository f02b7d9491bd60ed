using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qlaw.Core.Configuration;

namespace Qlaw.Core.Tests;

/// <summary>A section as <c>AddQlawOptions</c> registers it: every problem named by its key, and live edits that never apply half-valid.</summary>
public sealed class QlawOptionsTests
{
    [Fact]
    public void Unknown_keys_and_annotation_failures_of_the_section_and_its_nested_objects_are_each_named_by_their_key()
    {
        using var services = Services(new() { ["Sample:Count"] = "99", ["Sample:Cuont"] = "1", ["Sample:Inner:Size"] = "0", ["Sample:Inner:Szie"] = "3" }, out _);

        var failures = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IStartupValidator>().Validate()).Failures;

        Assert.Equal(
            [
                "Sample:Count: The field Count must be between 1 and 20.",
                "Sample:Cuont: not a known setting (known: Count, Inner, Name).",
                "Sample:Inner:Size: The field Size must be between 1 and 10.",
                "Sample:Inner:Szie: not a known setting (known: Size).",
                "Sample:Name is not set: give the sample a name.",
            ],
            failures.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_unconvertible_value_is_named_with_the_kind_of_value_it_should_be()
    {
        using var services = Services(new() { ["Sample:Name"] = "a", ["Sample:Count"] = "many" }, out _);

        var failure = Assert.Single(Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IStartupValidator>().Validate()).Failures);

        Assert.Equal("Sample:Count: 'many' is not a valid whole number.", failure);
    }

    [Fact]
    public void A_valid_edit_applies_live_and_an_invalid_one_is_logged_naming_the_key_while_the_last_good_values_stay()
    {
        using var services = Services(new() { ["Sample:Name"] = "a", ["Sample:Count"] = "3" }, out var configuration);
        var logs = services.GetRequiredService<ConcurrentQueue<string>>();
        var monitor = services.GetRequiredService<IOptionsMonitor<SampleOptions>>();
        Assert.Equal(3, monitor.CurrentValue.Count);

        Edit(configuration, "Sample:Count", "5");
        Assert.Equal(5, monitor.CurrentValue.Count);
        Assert.Contains("Applied the edited configuration of Sample", logs);

        Edit(configuration, "Sample:Count", "99");
        Edit(configuration, "Sample:Inner:Size", "none");
        Assert.Equal((5, 1), (monitor.CurrentValue.Count, monitor.CurrentValue.Inner.Size));
        Assert.Contains(logs, l => l.StartsWith("Rejected the edited configuration of Sample; the last good values stay: Sample:Count: The field Count must be between 1 and 20.", StringComparison.Ordinal));
        Assert.Contains(logs, l => l.Contains("Sample:Inner:Size: 'none' is not a valid whole number.", StringComparison.Ordinal));

        Edit(configuration, "Sample:Inner:Size", "2");
        Edit(configuration, "Sample:Count", "7");
        Assert.Equal((7, 2), (monitor.CurrentValue.Count, monitor.CurrentValue.Inner.Size));
    }

    private static void Edit(IConfigurationRoot configuration, string key, string value)
    {
        configuration[key] = value;
        configuration.Reload();
    }

    private static ServiceProvider Services(Dictionary<string, string?> values, out IConfigurationRoot configuration)
    {
        configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var logs = new ConcurrentQueue<string>();
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(configuration)
            .AddSingleton(logs)
            .AddLogging(logging => logging.AddProvider(new QueueLoggerProvider(logs)));
        services.AddQlawOptions<SampleOptions>("Sample", live: true);
        return services.BuildServiceProvider();
    }

    public sealed class SampleOptions
    {
        [Required(ErrorMessage = "Sample:Name is not set: give the sample a name.")]
        public string? Name { get; set; }

        [Range(1, 20)]
        public int Count { get; set; } = 3;

        [ValidateObjectMembers]
        public SampleInner Inner { get; set; } = new();
    }

    public sealed class SampleInner
    {
        [Range(1, 10)]
        public int Size { get; set; } = 1;
    }

    private sealed class QueueLoggerProvider(ConcurrentQueue<string> logs) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            logs.Enqueue(formatter(state, exception));

        public void Dispose()
        {
        }
    }
}
