using Microsoft.DurableTask;
using Microsoft.Extensions.DependencyInjection;
using Qlaw.Core.Database;
using Qlaw.Core.Orchestration;
using Qlaw.Core.RunStore;

namespace Qlaw.Core.Turns;

/// <summary>
/// Marks a run failed after its turn's retries ran out, or the turn failed for good (<c>run.dead_lettered</c>). Every
/// other end of a run is written by the turn that ends it, or by cancel.
/// </summary>
public sealed class DeadLetterActivity(IServiceScopeFactory scopes, DatabaseOutage outage) : TaskActivity<DeadLetterRequest, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, DeadLetterRequest input) =>
        outage.RetryAsync(
            async () =>
            {
                // Idempotent, so a write cut by a database outage runs again once it is over.
                await using var scope = scopes.CreateAsyncScope();
                if (await scope.ServiceProvider.GetRequiredService<RunEndings>().DeadLetterAsync(
                    input.RunId, input.State.Step, input.State.Agent, input.Error.Code, input.Error.Message, input.Permanent, CancellationToken.None))
                {
                    TurnCounters.DeadLettered();
                }

                return "dead_lettered";
            },
            CancellationToken.None);
}
