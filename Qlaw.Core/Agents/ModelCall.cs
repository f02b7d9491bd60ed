using System.ClientModel;
using Qlaw.Contracts.Runs;

namespace Qlaw.Core.Agents;

/// <summary>
/// One model call of a turn, as a real provider needs it made. It goes when its endpoint lets it (a free call under
/// <c>MaxConcurrentCalls</c>, no hold from the provider's quota), each wait recorded in the turn's log. A 429 — or a
/// 503 that says when to come back — before any text is waited out as the provider asked (cut to
/// <c>MaxRetryAfterSeconds</c>) and the call made again, without spending an attempt of the workflow's retry policy,
/// until the turn has waited <c>MaxThrottledSeconds</c> in all. A call that sends nothing for
/// <c>FirstTokenTimeoutSeconds</c>, or a stream quiet for <c>IdleTimeoutSeconds</c>, fails the attempt (retried).
/// </summary>
public sealed class ModelCall(ModelEndpoint endpoint, ITurnLog log, TimeProvider clock)
{
    private static readonly TimeSpan MinimumWait = TimeSpan.FromMilliseconds(100);
    private TimeSpan _throttled;
    private bool _waitOnRecord;

    /// <summary>Makes the call (<paramref name="call"/>) and hands each update to <paramref name="onUpdate"/>.</summary>
    public async Task RunAsync<T>(Func<CancellationToken, IAsyncEnumerable<T>> call, Func<T, Task> onUpdate, CancellationToken cancellationToken)
    {
        for (var tries = 0; ; tries++)
        {
            using (await EnterAsync(cancellationToken))
            {
                if (_waitOnRecord)
                {
                    await log.WaitOverAsync(cancellationToken);
                    _waitOnRecord = false;
                }

                var before = log.Length;
                try
                {
                    await StreamAsync(call, onUpdate, cancellationToken);
                    return;
                }
                catch (ClientResultException ex) when (log.Length == before && Throttled(ex, tries) is { } wait)
                {
                    endpoint.Gate.Hold(wait);
                    await RecordAsync(new ModelWait(endpoint.Name, ModelWait.RetryAfter, wait.TotalMilliseconds, ex.Status), cancellationToken);
                }
            }
        }
    }

    // Waits until the endpoint lets a call go: no hold on it, and a free call.
    private async Task<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (endpoint.Gate.HeldFor is { } held && held > TimeSpan.Zero)
            {
                Spend(held);
                if (!_waitOnRecord)
                {
                    await RecordAsync(new ModelWait(endpoint.Name, ModelWait.RateLimit, held.TotalMilliseconds), cancellationToken);
                }

                await Task.Delay(held, clock, cancellationToken);
                continue;
            }

            var place = endpoint.Gate.TryEnter();
            if (place is null)
            {
                if (!_waitOnRecord)
                {
                    await RecordAsync(new ModelWait(endpoint.Name, ModelWait.Calls), cancellationToken);
                }

                place = await endpoint.Gate.EnterAsync(cancellationToken);
            }

            if (endpoint.Gate.HeldFor <= TimeSpan.Zero)
            {
                return place;
            }

            // A 429 of another turn held the endpoint while this one queued: it waits that out too, without its place.
            place.Dispose();
        }
    }

    private async Task RecordAsync(ModelWait wait, CancellationToken cancellationToken)
    {
        await log.WaitingAsync(wait, cancellationToken);
        _waitOnRecord = true;
    }

    // Waits the provider asked for count against the turn's MaxThrottledSeconds; past it the attempt fails.
    private void Spend(TimeSpan wait)
    {
        _throttled += wait;
        if (_throttled.TotalSeconds > endpoint.Calls.MaxThrottledSeconds)
        {
            throw new TransientAgentException(
                $"The model provider kept refusing calls for its quota (429) for over {endpoint.Calls.MaxThrottledSeconds} s (MaxThrottledSeconds of endpoint '{endpoint.Name}').");
        }
    }

    // The wait a throttling answer asks for: its retry-after (cut to MaxRetryAfterSeconds, and at least a tenth of a
    // second so that a provider answering "0" is not called in a loop); a 429 that names none waits 1, 2, 4… s. Null for
    // anything else, which fails the attempt as before.
    private TimeSpan? Throttled(ClientResultException ex, int tries)
    {
        var asked = RateLimitHeaders.RetryAfter(ex.GetRawResponse(), clock.GetUtcNow());
        if (ex.Status is not (429 or 503) || (ex.Status == 503 && asked is null))
        {
            return null;
        }

        var ceiling = TimeSpan.FromSeconds(endpoint.Calls.MaxRetryAfterSeconds);
        var wait = asked ?? TimeSpan.FromSeconds(Math.Pow(2, Math.Min(tries, 10)));
        return wait > ceiling ? ceiling : wait < MinimumWait ? MinimumWait : wait;
    }

    private async Task StreamAsync<T>(Func<CancellationToken, IAsyncEnumerable<T>> call, Func<T, Task> onUpdate, CancellationToken cancellationToken)
    {
        var (first, idle) = (endpoint.Calls.FirstTokenTimeoutSeconds, endpoint.Calls.IdleTimeoutSeconds);
        using var quiet = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        quiet.CancelAfter(TimeSpan.FromSeconds(first));
        var started = false;
        try
        {
            await foreach (var update in call(quiet.Token))
            {
                started = true;
                quiet.CancelAfter(TimeSpan.FromSeconds(idle));
                await onUpdate(update);
            }
        }
        catch (Exception ex) when (quiet.IsCancellationRequested && !cancellationToken.IsCancellationRequested
            && ex is OperationCanceledException or IOException or HttpRequestException)
        {
            throw new TransientAgentException(
                started
                    ? $"The model's stream sent nothing for {idle} s (IdleTimeoutSeconds of endpoint '{endpoint.Name}'); the call was stopped."
                    : $"The model sent nothing for {first} s after the call was made (FirstTokenTimeoutSeconds of endpoint '{endpoint.Name}'); the call was stopped.",
                ex,
                RunErrorCodes.ModelTimeout);
        }
    }
}
