using System.Reflection;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Qlaw.Testing;

/// <summary>
/// xunit's framework with one change to the order of collections: those whose definition disables parallelization
/// (<c>[CollectionDefinition(…, DisableParallelization = true)]</c>, "late" collections) run after every parallel
/// collection has ended — as in xunit — but beside each other, not one after the other. A late collection's tests still
/// run one at a time, and none of them beside the parallel collections' load. The late collections are for tests that
/// mostly wait (on kills, outages, timeouts, a browser), so a few of them at once keep well under the cores that the
/// parallel collections fill.
/// When parallel collections are followed by late ones, the shared stack they release last is kept for the late ones
/// instead of being stopped and started again (initdb, Azurite and the template's migration).
/// A test assembly opts in with <c>[assembly: TestFramework(LateCollectionsTestFramework.TypeName, LateCollectionsTestFramework.AssemblyName)]</c>.
/// </summary>
public sealed class LateCollectionsTestFramework(IMessageSink messageSink) : XunitTestFramework(messageSink)
{
    public const string TypeName = "Qlaw.Testing.LateCollectionsTestFramework";

    public const string AssemblyName = "Qlaw.Testing";

    protected override ITestFrameworkExecutor CreateExecutor(AssemblyName assemblyName) =>
        new Executor(assemblyName, SourceInformationProvider, DiagnosticMessageSink);

    private sealed class Executor(AssemblyName assemblyName, ISourceInformationProvider sourceInformationProvider, IMessageSink diagnosticMessageSink)
        : XunitTestFrameworkExecutor(assemblyName, sourceInformationProvider, diagnosticMessageSink)
    {
        protected override async void RunTestCases(IEnumerable<IXunitTestCase> testCases, IMessageSink executionMessageSink, ITestFrameworkExecutionOptions executionOptions)
        {
            using var runner = new Runner(TestAssembly, testCases, DiagnosticMessageSink, executionMessageSink, executionOptions);
            await runner.RunAsync();
        }
    }

    private sealed class Runner(
        ITestAssembly testAssembly, IEnumerable<IXunitTestCase> testCases, IMessageSink diagnosticMessageSink, IMessageSink executionMessageSink,
        ITestFrameworkExecutionOptions executionOptions)
        : XunitTestAssemblyRunner(testAssembly, testCases, diagnosticMessageSink, executionMessageSink, executionOptions)
    {
        protected override async Task<RunSummary> RunTestCollectionsAsync(IMessageBus messageBus, CancellationTokenSource cancellationTokenSource)
        {
            var all = TestCases.ToList();
            var late = all.Where(c => IsLate(c.TestMethod.TestClass.TestCollection)).ToList();
            if (late.Count == 0 || late.Count == all.Count)
            {
                return await base.RunTestCollectionsAsync(messageBus, cancellationTokenSource);
            }

            SharedStack.KeepOverNextRelease();
            TestCases = all.Except(late).ToList();
            var summary = await base.RunTestCollectionsAsync(messageBus, cancellationTokenSource);
            if (cancellationTokenSource.IsCancellationRequested)
            {
                return summary;
            }

            TestCases = late;
            var lanes = OrderTestCollections().Select(collection => Task.Run(
                () => RunTestCollectionAsync(messageBus, collection.Item1, collection.Item2, cancellationTokenSource), cancellationTokenSource.Token));
            foreach (var lane in await Task.WhenAll(lanes))
            {
                summary.Aggregate(lane);
            }

            return summary;
        }

        private static bool IsLate(ITestCollection collection) =>
            collection.CollectionDefinition?.GetCustomAttributes(typeof(CollectionDefinitionAttribute)).SingleOrDefault()
                ?.GetNamedArgument<bool>(nameof(CollectionDefinitionAttribute.DisableParallelization)) == true;
    }
}
