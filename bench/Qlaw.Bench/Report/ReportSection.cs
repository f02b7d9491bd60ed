using System.Globalization;
using System.Text;

namespace Qlaw.Bench.Report;

/// <summary>One scenario's results: a sentence on what was measured, tables, and notes (goals met or missed).</summary>
internal sealed class ReportSection(string title, string method)
{
    private readonly StringBuilder _body = new();

    public string Title => title;

    /// <summary>Goals this section reports against, with whether each was met.</summary>
    public List<GoalResult> Goals { get; } = [];

    public ReportSection Table(string[] header, IEnumerable<string[]> rows)
    {
        _body.AppendLine().Append("| ").AppendJoin(" | ", header).AppendLine(" |");
        _body.Append('|').AppendJoin("", header.Select(_ => "---|")).AppendLine();
        foreach (var row in rows)
        {
            _body.Append("| ").AppendJoin(" | ", row).AppendLine(" |");
        }

        return this;
    }

    public ReportSection Note(string text)
    {
        _body.AppendLine().AppendLine(text);
        return this;
    }

    public ReportSection Goal(string goal, string measured, bool met)
    {
        Goals.Add(new GoalResult(goal, measured, met));
        return this;
    }

    public string ToMarkdown() => new StringBuilder()
        .Append("### ").AppendLine(title).AppendLine().AppendLine(method)
        .Append(_body).ToString();

    public static string Ms(double value) => double.IsNaN(value) ? "–" : value.ToString(value < 10 ? "0.0" : "0", CultureInfo.InvariantCulture);

    public static string Number(double value, string format = "0.0") => double.IsNaN(value) ? "–" : value.ToString(format, CultureInfo.InvariantCulture);
}

/// <summary>A goal of the issue, what was measured against it, and the verdict.</summary>
internal sealed record GoalResult(string Goal, string Measured, bool Met);
