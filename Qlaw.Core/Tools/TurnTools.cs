using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using ModelContextProtocol.Protocol;
using Qlaw.Contracts;

namespace Qlaw.Core.Tools;

/// <summary>
/// What a round of tool calls gives the model: its calls and their results, to add to the conversation — or, when a
/// call needs a person (approval, or a call cut off by a crash whose tool is not idempotent), the question the turn
/// ends with.
/// </summary>
public sealed record ToolRound(IReadOnlyList<AIContent> Calls, IReadOnlyList<AIContent> Results, string? Question);

/// <summary>
/// One turn's tools: the declarations the model is offered, and the calls it makes, each recorded before it runs and
/// when it returns (<see cref="IToolCallLog"/>), so that a retried or resumed turn replays a result instead of calling
/// again. A tool's error, a timeout or a call over the turn's bounds is the tool's result for the model, not a failure
/// of the turn.
/// </summary>
public sealed class TurnTools(McpServers servers, IReadOnlyList<(GrantedTool Tool, AITool Declaration)> granted, ToolLimits limits)
{
    private readonly Dictionary<string, GrantedTool> _byFunction = granted.ToDictionary(g => g.Tool.Function, g => g.Tool, StringComparer.Ordinal);
    private readonly Stopwatch _time = Stopwatch.StartNew();
    private int _calls;

    /// <summary>A turn whose agent was granted no tool.</summary>
    public static TurnTools None { get; } = new(null!, [], new ToolLimits(0, TimeSpan.Zero, TimeSpan.Zero, 0));

    /// <summary>The declarations to offer next to the routing tools.</summary>
    public IEnumerable<AITool> Declarations => granted.Select(g => g.Declaration);

    /// <summary>Whether the model called one of these tools (rather than a routing tool).</summary>
    public bool Offers(string function) => _byFunction.ContainsKey(function);

    /// <summary>
    /// The calls recorded before this turn began (earlier attempts of its step, or the step that paused for a person):
    /// results replayed, approved calls and idempotent calls that were cut off run now, undecided ones asked again.
    /// </summary>
    public async Task<ToolRound?> ReplayAsync(IReadOnlyList<ToolCallRecord> recorded, IToolCallLog log, CancellationToken cancellationToken)
    {
        if (recorded.Count == 0)
        {
            return null;
        }

        var (calls, results, questions) = (new List<AIContent>(), new List<AIContent>(), new List<string>());
        foreach (var record in recorded)
        {
            var tool = granted.Select(g => g.Tool).FirstOrDefault(t => t.Name == record.Tool);
            _calls++;
            calls.Add(new FunctionCallContent(record.CallId, tool?.Function ?? record.Tool, Arguments(record.Arguments)));
            switch (record.Status)
            {
                case ToolCallStatus.Completed:
                    results.Add(new FunctionResultContent(record.CallId, record.Result));
                    break;
                case ToolCallStatus.Denied:
                    results.Add(new FunctionResultContent(record.CallId, Denied(record.DecisionReason)));
                    break;
                case ToolCallStatus.Approved when tool is not null:
                case ToolCallStatus.Running when tool is { Idempotent: true }:
                    var again = record with { Status = ToolCallStatus.Running };
                    await log.MarkAsync(again, cancellationToken);
                    results.Add(await InvokeAsync(tool, again, log, cancellationToken));
                    break;
                case ToolCallStatus.Running:
                    var uncertain = record with { Status = ToolCallStatus.Uncertain };
                    await log.MarkAsync(uncertain, cancellationToken);
                    questions.Add(Question(uncertain));
                    break;
                case ToolCallStatus.AwaitingApproval or ToolCallStatus.Uncertain:
                    questions.Add(Question(record));
                    break;
                default:
                    results.Add(new FunctionResultContent(record.CallId, $"Not run: the agent is no longer granted {record.Tool}."));
                    break;
            }
        }

        return new ToolRound(calls, results, questions.Count > 0 ? string.Join("\n", questions) : null);
    }

    /// <summary>Runs the calls of one model answer, in order.</summary>
    public async Task<ToolRound> RunAsync(IReadOnlyList<FunctionCallContent> calls, int step, IToolCallLog log, CancellationToken cancellationToken)
    {
        var results = new List<AIContent>();
        var questions = new List<string>();
        foreach (var call in calls)
        {
            var tool = _byFunction[call.Name];
            var arguments = JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>(), ArgumentsText);
            var reason = call.Arguments?.TryGetValue("reason", out var said) == true ? said?.ToString() : null;
            if (++_calls > limits.MaxCalls || _time.Elapsed > limits.TurnTime)
            {
                var over = new ToolCallRecord(0, step, call.CallId, tool.Name, arguments, ToolCallStatus.Running);
                over = await log.CalledAsync(over, reason, cancellationToken);
                results.Add(await CompleteAsync(over, _calls > limits.MaxCalls
                    ? $"Not run: this turn made its {limits.MaxCalls} tool calls (limits.max_tool_calls_per_turn); finish with what you have."
                    : $"Not run: this turn's tools ran for {limits.TurnTime.TotalSeconds:0} s (Limits:ToolTurnSeconds); finish with what you have.", true, TimeSpan.Zero, log, cancellationToken));
                continue;
            }

            var record = new ToolCallRecord(0, step, call.CallId, tool.Name, arguments, tool.NeedsApproval ? ToolCallStatus.AwaitingApproval : ToolCallStatus.Running);
            record = await log.CalledAsync(record, reason, cancellationToken);
            if (tool.NeedsApproval)
            {
                questions.Add(Question(record, reason));
                continue;
            }

            results.Add(await InvokeAsync(tool, record, log, cancellationToken));
        }

        return new ToolRound(calls, results, questions.Count > 0 ? string.Join("\n", questions) : null);
    }

    private async Task<AIContent> InvokeAsync(GrantedTool tool, ToolCallRecord record, IToolCallLog log, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        string result;
        bool isError;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limits.CallTimeout);
        try
        {
            var answer = await servers.CallAsync(tool.Server, tool.Tool, Arguments(record.Arguments), timeout.Token);
            (result, isError) = (Text(answer), answer.IsError == true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            (result, isError) = ($"The call took longer than {limits.CallTimeout.TotalSeconds:0} s (Limits:ToolCallTimeoutSeconds) and was stopped.", true);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The server's own words stay in its log: the model is told what happened, in Qlaw's words.
            (result, isError) = (ex is ModelContextProtocol.McpException ? "The tool failed: its server refused the call." : "The tool failed: its server stopped before it answered.", true);
        }

        return await CompleteAsync(record, result, isError, Stopwatch.GetElapsedTime(started), log, cancellationToken);
    }

    private async Task<AIContent> CompleteAsync(ToolCallRecord record, string result, bool isError, TimeSpan duration, IToolCallLog log, CancellationToken cancellationToken)
    {
        if (result.Length > limits.MaxResultChars)
        {
            result = result[..limits.MaxResultChars] + $"\n[cut at {limits.MaxResultChars} characters (Limits:MaxToolResultChars)]";
        }

        await log.CompletedAsync(record with { Status = ToolCallStatus.Completed, Result = result, IsError = isError }, duration, cancellationToken);
        return new FunctionResultContent(record.CallId, result);
    }

    // The text of a tool's answer: its text blocks, and a note for each block of another kind.
    private static string Text(CallToolResult answer)
    {
        var text = new StringBuilder();
        foreach (var block in answer.Content)
        {
            text.Append(block is TextContentBlock { Text: var said } ? said : $"[{block.Type} content]").Append('\n');
        }

        if (answer.Content.Count == 0 && answer.StructuredContent is { } structured)
        {
            text.Append(structured.GetRawText());
        }

        return text.ToString().TrimEnd('\n');
    }

    // The arguments as a person reads them in a question (=> stays =>); they travel inside JSON strings, escaped there.
    private static readonly JsonSerializerOptions ArgumentsText = new(QlawJson.Options) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static Dictionary<string, object?> Arguments(string json) =>
        JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)?.ToDictionary(p => p.Key, p => (object?)p.Value) ?? [];

    private static string Denied(string? reason) => $"Denied by a person{(reason is { Length: > 0 } ? $": {reason}" : ".")} The call did not run.";

    /// <summary>What a person is asked about a call that waits for them.</summary>
    public static string Question(ToolCallRecord call, string? reason = null) => call.Status == ToolCallStatus.Uncertain
        ? $"The call {call.Tool} {call.Arguments} was cut off by a crash; it may or may not have taken effect. Run it again? Answer yes or no."
        : $"Approve the call {call.Tool} {call.Arguments}{(reason is { Length: > 0 } ? $" ({reason})" : "")}? Answer yes or no.";
}
