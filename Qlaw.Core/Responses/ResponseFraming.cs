using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Qlaw.Contracts;
using Qlaw.Contracts.Events;
using Qlaw.Contracts.Responses;
using Qlaw.Core.RunStore;

namespace Qlaw.Core.Responses;

/// <summary>
/// Frames a run's log as an OpenAI Responses stream — the grammar the OpenAI SDKs' stream accumulators read and the
/// QLAW CLI's parser shows: <c>response.created</c> and <c>response.in_progress</c> carrying the response object; per
/// agent turn an output item (<c>response.output_item.added</c>, <c>response.content_part.added</c>, the text deltas,
/// <c>response.output_text.done</c>, <c>response.content_part.done</c>, <c>response.output_item.done</c>); and the end
/// as <c>response.completed</c>, <c>response.incomplete</c> (a question, a cancel) or <c>error</c> then
/// <c>response.failed</c>. Every event carries <c>sequence_number</c>, the same for the same event of a run however
/// often it is framed (replays, <c>starting_after</c>). The log holds none of these: they are derived from its rows as
/// they are read, so <c>GET /v1/runs/{id}/responses</c> (which streams the rows as they are) stays unchanged.
/// </summary>
/// <remarks>
/// Where the two readers disagree the <c>event:</c> line is for the CLI (which dispatches on it) and the JSON
/// <c>type</c> for the SDKs (which read only it): a trace is named <c>response.trace.complete</c> with the type
/// <c>keepalive</c> (the SDKs' event without response state), and <c>response.output_text.done</c>, whose top-level
/// <c>text</c> the CLI would print again, is named <c>response.completed</c>, an event the CLI passes over.
/// </remarks>
public sealed class ResponseFraming(ResponseTarget target, string model, bool headings)
{
    private const string Keepalive = "keepalive";
    private readonly List<OutputItem> _output = [];
    private readonly HashSet<string> _calls = new(StringComparer.Ordinal);
    private readonly List<ResponseFrame> _framed = [];
    private (int Step, int Attempt)? _headed;
    private int _sequence;
    private Turn? _turn;
    private bool _spoke;
    private long? _inputTokens;
    private long? _outputTokens;

    /// <summary>
    /// The framed stream of <paramref name="rows"/>; nulls (heartbeats) pass through. A client that has the stream up to
    /// row <paramref name="sentThrough"/> (a retried call's <c>Last-Event-ID</c>) gets only what follows: the rows it has
    /// are framed all the same, so that numbers, items and headings go on as it saw them.
    /// </summary>
    public async IAsyncEnumerable<ResponseFrame?> FrameAsync(IAsyncEnumerable<RunEventRow?> rows, long sentThrough, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Framed even when the client has them: they take the first sequence numbers.
        ResponseFrame[] opening = [Lifecycle(ResponseLifecycle.Created, Response("in_progress")), Lifecycle(ResponseLifecycle.InProgress, Response("in_progress"))];
        if (sentThrough <= target.After)
        {
            foreach (var frame in opening)
            {
                yield return frame;
            }
        }

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

            Frame(row);
            if (row.Id > sentThrough)
            {
                for (var i = 0; i < _framed.Count; i++)
                {
                    // The row's id goes on its last frame: a client whose Last-Event-ID is that id has all of its frames.
                    yield return i == _framed.Count - 1 ? _framed[i] with { Id = row.Id } : _framed[i];
                }
            }

            _framed.Clear();
        }
    }

    // Adds the frames of a row to _framed, in order (their sequence numbers are taken as they are added).
    private void Frame(RunEventRow row)
    {
        switch (row.Type)
        {
            case RunEvents.TextDelta:
                var delta = JsonSerializer.Deserialize<OutputTextDelta>(row.Data, QlawJson.Options)!;
                var attempt = delta.Attempt ?? 1;
                if (_turn is not { } open || open.Step != delta.OutputIndex || open.Attempt != attempt)
                {
                    Open(delta.OutputIndex, attempt, delta.Agent);
                }

                var turn = _turn!;
                if (headings && _headed != (turn.Step, turn.Attempt))
                {
                    _headed = (turn.Step, turn.Attempt);
                    _framed.Add(Delta(turn, delta with { Delta = RunResponses.Heading(delta.Agent, attempt, first: !_spoke), Heading = true }));
                }

                _spoke = true;
                _framed.Add(Delta(turn, delta));
                break;

            case RunEvents.TraceComplete:
                var trace = JsonNode.Parse(row.Data)!;
                var eventType = trace["data"]?["event_type"]?.GetValue<string>();
                trace["type"] = Keepalive;
                trace["sequence_number"] = Next();
                _framed.Add(new(null, RunEvents.TraceComplete, trace.ToJsonString(QlawJson.Options)));
                if (eventType == RunEvents.ExecutorInvoked)
                {
                    var invoked = trace["data"]!["data"].Deserialize<ExecutorInvoked>(QlawJson.Options)!;
                    Open(invoked.Step, invoked.Attempt, invoked.Agent);
                }
                else if (eventType == RunEvents.ToolCall && trace["data"]!["data"].Deserialize<ToolCalled>(QlawJson.Options) is { } called && _calls.Add(called.CallId))
                {
                    Call(called);
                }
                else if (eventType is RunEvents.ExecutorCompleted or RunEvents.ExecutorFailed)
                {
                    if (eventType == RunEvents.ExecutorCompleted && trace["data"]!["data"]?.Deserialize<StepCompleted>(QlawJson.Options) is { } completed)
                    {
                        (_inputTokens, _outputTokens) = (Add(_inputTokens, completed.InputTokens), Add(_outputTokens, completed.OutputTokens));
                    }

                    Close(eventType == RunEvents.ExecutorCompleted ? "completed" : "incomplete");
                }

                break;

            case RunEvents.ResponseCompleted:
                Close("incomplete");
                var status = JsonNode.Parse(row.Data)?["response"]?["status"]?.GetValue<string>();
                _framed.Add(status switch
                {
                    "completed" => Lifecycle(ResponseCompleted.Name, Response("completed")),
                    "cancelled" => Lifecycle(ResponseLifecycle.Incomplete, Response("cancelled") with { IncompleteDetails = new("cancelled") }),
                    _ => Lifecycle(ResponseLifecycle.Incomplete, Response("incomplete") with { IncompleteDetails = new("awaiting_input") }),
                });
                break;

            case RunEvents.ResponseError:
                Close("incomplete");
                var error = JsonSerializer.Deserialize<ResponseError>(row.Data, QlawJson.Options)!;
                _framed.Add(Added(StreamError.Name, new StreamError(error.Code, error.Message, Next())));
                _framed.Add(Lifecycle(ResponseLifecycle.Failed, Response("failed") with { Error = new(error.Code, error.Message) }));
                break;

            default:
                _framed.Add(new(null, row.Type, Numbered(row.Data)));
                break;
        }
    }

    private void Open(int step, int attempt, string agent)
    {
        Close("incomplete");

        // A turn's text after a tool call is a message of its own, with an id of its own.
        var itemId = RunResponses.ItemId(target.RunId, step, attempt);
        itemId = _output.Any(o => o.Id == itemId) ? $"{itemId}_{_output.Count}" : itemId;
        var turn = _turn = new Turn(_output.Count, step, attempt, agent, itemId);
        _output.Add(turn.Item("in_progress"));
        _framed.Add(Added(OutputItemAdded.Name, new OutputItemAdded(turn.Index, turn.Item("in_progress"), Next())));
        _framed.Add(Added(ContentPart.Added, new ContentPart(ContentPart.Added, turn.ItemId, turn.Index, 0, new OutputText(""), Next())));
    }

    // A tool call as a function_call item after the turn's text so far; text after it opens a new message of the turn.
    private void Call(ToolCalled called)
    {
        Close("completed");
        var (index, id) = (_output.Count, $"fc_{called.CallId}");
        var item = new OutputFunctionCall(id, "in_progress", called.CallId, called.Tool, "", called.Agent, called.Step, called.Attempt);
        _output.Add(item);
        _framed.Add(Added(OutputItemAdded.Name, new OutputItemAdded(index, item, Next())));

        // A top-level delta is text to the CLI: it sees this one as response.completed, which it passes over (see the remarks).
        _framed.Add(new(null, ResponseCompleted.Name, JsonSerializer.Serialize(new FunctionCallArgumentsDelta(id, index, called.Arguments, Next()), QlawJson.Options)));
        _framed.Add(Added(FunctionCallArgumentsDone.Name, new FunctionCallArgumentsDone(id, index, called.Tool, called.Arguments, Next())));
        _output[index] = item with { Status = "completed", Arguments = called.Arguments };
        _framed.Add(Added(OutputItemDone.Name, new OutputItemDone(index, _output[index], Next())));
    }

    private void Close(string status)
    {
        if (_turn is not { } turn)
        {
            return;
        }

        _turn = null;
        var text = turn.Text.ToString();
        _output[turn.Index] = turn.Item(status);

        // The CLI passes over what it sees as response.completed; the SDKs read the JSON type (see the remarks).
        _framed.Add(new(null, ResponseCompleted.Name, JsonSerializer.Serialize(new OutputTextDone(turn.ItemId, turn.Index, 0, text, Next()), QlawJson.Options)));
        _framed.Add(Added(ContentPart.Done, new ContentPart(ContentPart.Done, turn.ItemId, turn.Index, 0, new OutputText(text), Next())));
        _framed.Add(Added(OutputItemDone.Name, new OutputItemDone(turn.Index, _output[turn.Index], Next())));
    }

    private ResponseFrame Delta(Turn turn, OutputTextDelta delta)
    {
        turn.Text.Append(delta.Delta);
        var framed = delta with { ItemId = turn.ItemId, OutputIndex = turn.Index, ContentIndex = 0 };
        return new(null, OutputTextDelta.Name, Numbered(JsonSerializer.Serialize(framed, QlawJson.Options)));
    }

    private ResponseObject Response(string status) =>
        RunResponses.Describe(target, model, status, [.. _output],
            _inputTokens is null && _outputTokens is null ? null : new ResponseUsage(_inputTokens ?? 0, _outputTokens ?? 0));

    private ResponseFrame Lifecycle(string type, ResponseObject response) =>
        new(null, type, JsonSerializer.Serialize(new ResponseLifecycle(type, response, Next()), QlawJson.Options));

    private static ResponseFrame Added<T>(string name, T payload) => new(null, name, JsonSerializer.Serialize(payload, QlawJson.Options));

    private int Next() => _sequence++;

    private static long? Add(long? sum, long? more) => more is null ? sum : (sum ?? 0) + more;

    // A row of the log, as stored, with its sequence number appended (the stored JSON is one object).
    private string Numbered(string data) => $"{data.AsSpan().TrimEnd()[..^1]}, \"sequence_number\": {Next()}}}";

    // The turn whose output item is open: where it is in the response, and its text so far.
    private sealed record Turn(int Index, int Step, int Attempt, string Agent, string ItemId)
    {
        public StringBuilder Text { get; } = new();

        public OutputMessage Item(string status) =>
            new(ItemId, status, Agent, Step, Attempt, status == "in_progress" ? [] : [new OutputText(Text.ToString())]);
    }
}
