using Microsoft.DurableTask;
using Microsoft.Extensions.DependencyInjection;
using Qlaw.Core.Database;
using Qlaw.Core.Orchestration;

namespace Qlaw.Core.Journal;

/// <summary>Marks a run failed after its retries ran out (<c>run.dead_lettered</c>).</summary>
public sealed class DeadLetterActivity(IServiceScopeFactory scopes, DatabaseOutage outage) : TaskActivity<DeadLetterRequest, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, DeadLetterRequest input) =>
        EndingWrite.RunAsync(scopes, outage, endings => endings.DeadLetterAsync(input, CancellationToken.None), "dead_lettered");
}

/// <summary>Ends a run as completed or failed.</summary>
public sealed class FinishRunActivity(IServiceScopeFactory scopes, DatabaseOutage outage) : TaskActivity<FinishRunRequest, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, FinishRunRequest input) =>
        EndingWrite.RunAsync(scopes, outage, endings => endings.FinishAsync(input, CancellationToken.None), input.Succeeded ? "completed" : "failed");
}

/// <summary>One idempotent <see cref="RunEndings"/> write in a scope of its own, run again once a database outage is over.</summary>
internal static class EndingWrite
{
    public static Task<string> RunAsync(IServiceScopeFactory scopes, DatabaseOutage outage, Func<RunEndings, Task> write, string result) =>
        outage.RetryAsync(
            async () =>
            {
                await using var scope = scopes.CreateAsyncScope();
                await write(scope.ServiceProvider.GetRequiredService<RunEndings>());
                return result;
            },
            CancellationToken.None);
}
