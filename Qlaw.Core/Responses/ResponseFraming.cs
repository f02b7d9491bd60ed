using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Qlaw.Contracts;
using Qlaw.Contracts.Events;
using Qlaw.Core.Streaming;

namespace Qlaw.Core.Responses;

/// <summary>One event of a <c>/v1/responses</c> stream: a row of the run's log (with its id) or one the stream adds (none).</summary>
public sealed record ResponseFrame(long? Id, string Event, string Data)
{
    /// <summary>Ends a stream whose reader fell too far behind (compared by reference): it resumes with Last-Event-ID.</summary>
    public static ResponseFrame Lagged { get; } = new(null, "lagging", "");
}

/// <summary>What a <c>/v1/responses</c> stream is about: the run (its response), the model asked for, the workflow.</summary>
public sealed record ResponseTarget(Guid RunId, long After, string Workflow, DateTimeOffset CreatedAt);

/// <summary>
/// Frames a run's log as an OpenAI Responses stream for <c>/v1/responses</c> and <c>send_responses</c>: it opens with
/// <c>response.created</c> and <c>response.in_progress</c>, wraps each agent turn in <c>response.output_item.added</c> /
/// <c>.done</c>, begins each turn's text with a heading delta naming the agent (unless turned off), and numbers every
/// event (<c>sequence_number</c>). The log holds none of these: they are derived from its rows as they are read, so
/// replays, followers and <c>GET /v1/runs/{id}/responses</c> (which streams the rows as they are) stay unchanged.
/// Added events carry no SSE <c>id:</c> — a resume position is always a row of the log.
/// </summary>
public sealed class ResponseFraming(ResponseTarget target, string model, bool headings)
{
    private int _sequence;
    private Turn? _turn;
    private bool _spoke;

    /// <summary>The framed stream of <paramref name="rows"/>; nulls (heartbeats) pass through.</summary>
    public async IAsyncEnumerable<ResponseFrame?> FrameAsync(IAsyncEnumerable<RunEventRow?> rows, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var response = Summary("in_progress");
        yield return Added(ResponseCreated.Name, new ResponseCreated(response, Next()));
        yield return Added(ResponseInProgress.Name, new ResponseInProgress(response, Next()));
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            if (row is null)
            {
                yield return null;
                continue;
            }

            if (ReferenceEquals(row, RunEventRow.Lagged))
            {
                yield return ResponseFrame.Lagged;
                yield break;
            }

            foreach (var frame in Frame(row))
            {
                yield return frame;
            }
        }
    }

    private IEnumerable<ResponseFrame> Frame(RunEventRow row)
    {
        switch (row.Type)
        {
            case RunEvents.TextDelta:
                var delta = JsonSerializer.Deserialize<OutputTextDelta>(row.Data, QlawJson.Options)!;
                var attempt = delta.Attempt ?? 1;
                if (_turn is not { } turn || turn.Step != delta.OutputIndex || turn.Attempt != attempt)
                {
                    foreach (var frame in Open(delta.OutputIndex, attempt, delta.Agent))
                    {
                        yield return frame;
                    }
                }

                if (headings && !_turn!.Headed)
                {
                    _turn.Headed = true;
                    var heading = $"{(_spoke ? "\n\n" : "")}**{delta.Agent}**{(attempt > 1 ? $" (attempt {attempt})" : "")}\n";
                    yield return new(null, OutputTextDelta.Name, Numbered(JsonSerializer.Serialize(delta with { Delta = heading, Heading = true }, QlawJson.Options)));
                }

                _spoke = true;
                _turn!.Text.Append(delta.Delta);
                yield return Logged(row);
                break;

            case RunEvents.TraceComplete:
                var trace = JsonNode.Parse(row.Data)!["data"]!;
                var eventType = trace["event_type"]?.GetValue<string>();
                if (eventType == RunEvents.ExecutorInvoked)
                {
                    var invoked = trace["data"].Deserialize<ExecutorInvoked>(QlawJson.Options)!;
                    yield return Logged(row);
                    foreach (var frame in Open(invoked.Step, invoked.Attempt, invoked.Agent))
                    {
                        yield return frame;
                    }
                }
                else
                {
                    yield return Logged(row);
                    if (eventType is RunEvents.ExecutorCompleted or RunEvents.ExecutorFailed)
                    {
                        foreach (var frame in Close(eventType == RunEvents.ExecutorCompleted ? "completed" : "incomplete"))
                        {
                            yield return frame;
                        }
                    }
                }

                break;

            case RunEvents.ResponseCompleted or RunEvents.ResponseError:
                foreach (var frame in Close("incomplete"))
                {
                    yield return frame;
                }

                yield return Logged(row);
                break;

            default:
                yield return Logged(row);
                break;
        }
    }

    private IEnumerable<ResponseFrame> Open(int step, int attempt, string agent)
    {
        foreach (var frame in Close("incomplete"))
        {
            yield return frame;
        }

        _turn = new Turn(step, attempt, agent);
        yield return Added(OutputItemAdded.Name, new OutputItemAdded(step, Item(_turn, "in_progress"), Next()));
    }

    private IEnumerable<ResponseFrame> Close(string status)
    {
        if (_turn is { } turn)
        {
            _turn = null;
            yield return Added(OutputItemDone.Name, new OutputItemDone(turn.Step, Item(turn, status), Next()));
        }
    }

    private OutputMessage Item(Turn turn, string status) =>
        new(RunEvents.ItemId(target.RunId, turn.Step), status, turn.Agent, turn.Step, turn.Attempt,
            status == "in_progress" ? [] : [new OutputText(turn.Text.ToString())]);

    private ResponseSummary Summary(string status) =>
        new(RunEvents.ResponseId(target.RunId), status, RunId: target.RunId.ToString(), Model: model, Workflow: target.Workflow,
            CreatedAt: target.CreatedAt.ToUnixTimeSeconds());

    private static ResponseFrame Added<T>(string name, T payload) => new(null, name, JsonSerializer.Serialize(payload, QlawJson.Options));

    private int Next() => _sequence++;

    // A row of the log, as stored, with its sequence number appended (the stored JSON is one object).
    private ResponseFrame Logged(RunEventRow row) => new(row.Id, row.Type, Numbered(row.Data));

    private string Numbered(string data) => $"{data.AsSpan().TrimEnd()[..^1]}, \"sequence_number\": {Next()}}}";

    private sealed class Turn(int step, int attempt, string agent)
    {
        public int Step => step;

        public int Attempt => attempt;

        public string Agent => agent;

        public bool Headed { get; set; }

        public StringBuilder Text { get; } = new();
    }
}
