using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;

namespace Qlaw.Bench.Report;

/// <summary>
/// The whole report: machine, date, command, a summary of the goals, then each scenario's tables. Written to
/// <c>.local/bench/</c> every time, and between the markers of docs/benchmarks.md after a full run; the side-by-side
/// comparison with the LangGraph.js peer, the paced-model and the dead-letter sections each between their own markers.
/// </summary>
internal sealed class BenchReport(string repository, string command)
{
    public const string BeginMarker = "<!-- bench:results:begin -->";
    public const string EndMarker = "<!-- bench:results:end -->";
    public const string PeerBeginMarker = "<!-- bench:peer:begin -->";
    public const string PeerEndMarker = "<!-- bench:peer:end -->";
    public const string PacedBeginMarker = "<!-- bench:paced:begin -->";
    public const string PacedEndMarker = "<!-- bench:paced:end -->";
    public const string ToolsBeginMarker = "<!-- bench:tools:begin -->";
    public const string ToolsEndMarker = "<!-- bench:tools:end -->";

    public const string DeadLettersBeginMarker = "<!-- bench:deadletters:begin -->";
    public const string DeadLettersEndMarker = "<!-- bench:deadletters:end -->";

    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private readonly string _loadAtStart = Load();

    public List<ReportSection> Sections { get; } = [];

    public string? PostgresVersion { get; set; }

    public bool AzuriteOnDisk { get; set; } = true;

    public bool AzuriteOneProcess { get; set; }

    /// <summary>The report with every section, or only <paramref name="only"/> (and their goals).</summary>
    public string ToMarkdown(IReadOnlyCollection<ReportSection>? only = null)
    {
        var sections = only ?? Sections;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Measured {_started:yyyy-MM-dd HH:mm} UTC ({(DateTimeOffset.UtcNow - _started).TotalMinutes:0.0} min) with");
        text.AppendLine().AppendLine("```bash").AppendLine(command).AppendLine("```").AppendLine();
        text.AppendLine("| Machine | |").AppendLine("|---|---|");
        text.AppendLine(CultureInfo.InvariantCulture, $"| CPU | {CpuModel()}, {Environment.ProcessorCount} cores (nproc) |");
        text.AppendLine(CultureInfo.InvariantCulture, $"| Memory | {MemoryGiB():0.0} GiB |");
        text.AppendLine(CultureInfo.InvariantCulture, $"| OS, runtime | Linux {Read("/proc/sys/kernel/osrelease").Trim()}, {RuntimeInformation.FrameworkDescription}, {Configuration} build |");
        text.AppendLine(CultureInfo.InvariantCulture, $"| PostgreSQL | {PostgresVersion} (fsync on, as the launcher runs it) |");
        text.AppendLine(CultureInfo.InvariantCulture, $"| Azurite | {AzuriteVersion()} ({(AzuriteOnDisk ? "disk persistence" : "in memory, as the tests run it")}, {(AzuriteOneProcess ? "all services in one process" : "one process per service, as the launcher runs it")}) |");
        text.AppendLine(CultureInfo.InvariantCulture, $"| Other load | {_loadAtStart} at the start, {Load()} at the end |");
        var goals = sections.SelectMany(s => s.Goals).ToList();
        if (goals.Count > 0)
        {
            text.AppendLine().AppendLine("#### Goals").AppendLine().AppendLine("| Goal | Measured | |").AppendLine("|---|---|---|");
        }

        foreach (var goal in goals)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {goal.Goal} | {goal.Measured} | {(goal.Met ? "met" : "**missed**")} |");
        }

        foreach (var section in sections)
        {
            text.AppendLine().Append(section.ToMarkdown());
        }

        return text.ToString();
    }

    /// <summary>Saves the report under .local/bench/ and returns the path.</summary>
    public async Task<string> SaveAsync()
    {
        var folder = Path.Combine(repository, ".local", "bench");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"results-{_started:yyyyMMdd-HHmmss}.md");
        await File.WriteAllTextAsync(path, ToMarkdown());
        return path;
    }

    /// <summary>Replaces the results between the markers of docs/benchmarks.md.</summary>
    public Task UpdateDocumentAsync() => UpdateDocumentAsync(BeginMarker, EndMarker, ToMarkdown());

    /// <summary>Replaces the side-by-side comparison (<paramref name="sections"/>) between the peer markers of docs/benchmarks.md.</summary>
    public Task UpdatePeerDocumentAsync(IReadOnlyCollection<ReportSection> sections) => UpdateDocumentAsync(PeerBeginMarker, PeerEndMarker, ToMarkdown(sections));

    /// <summary>Replaces the paced-model section (<paramref name="sections"/>) between the paced markers of docs/benchmarks.md.</summary>
    public Task UpdatePacedDocumentAsync(IReadOnlyCollection<ReportSection> sections) => UpdateDocumentAsync(PacedBeginMarker, PacedEndMarker, ToMarkdown(sections));

    /// <summary>Replaces the tool-call section (<paramref name="sections"/>) between the tool markers of docs/benchmarks.md.</summary>
    public Task UpdateToolsDocumentAsync(IReadOnlyCollection<ReportSection> sections) => UpdateDocumentAsync(ToolsBeginMarker, ToolsEndMarker, ToMarkdown(sections));

    /// <summary>Replaces the dead-letter section (<paramref name="sections"/>) between the dead-letter markers of docs/benchmarks.md.</summary>
    public Task UpdateDeadLettersDocumentAsync(IReadOnlyCollection<ReportSection> sections) =>
        UpdateDocumentAsync(DeadLettersBeginMarker, DeadLettersEndMarker, ToMarkdown(sections));

    private async Task UpdateDocumentAsync(string beginMarker, string endMarker, string markdown)
    {
        var path = Path.Combine(repository, "docs", "benchmarks.md");
        var document = File.Exists(path) ? await File.ReadAllTextAsync(path) : "# Benchmarks\n";
        var (begin, end) = (document.IndexOf(beginMarker, StringComparison.Ordinal), document.IndexOf(endMarker, StringComparison.Ordinal));
        if (begin < 0 && end < 0)
        {
            document = document.TrimEnd() + $"\n\n{beginMarker}\n{endMarker}\n";
            (begin, end) = (document.IndexOf(beginMarker, StringComparison.Ordinal), document.IndexOf(endMarker, StringComparison.Ordinal));
        }
        else if (begin < 0 || end < begin)
        {
            throw new InvalidOperationException($"{path} has no {beginMarker} … {endMarker} block.");
        }

        var updated = document[..(begin + beginMarker.Length)] + "\n" + markdown + document[end..];
        await File.WriteAllTextAsync(path, updated);
    }

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private static string CpuModel() =>
        Read("/proc/cpuinfo").Split('\n').FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";

    private static double MemoryGiB()
    {
        var line = Read("/proc/meminfo").Split('\n').FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        return line is null ? double.NaN : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0 / 1024.0;
    }

    private string AzuriteVersion() =>
        JsonNode.Parse(Read(Path.Combine(repository, "node_modules", "azurite", "package.json")) is { Length: > 0 } json ? json : "{}")?["version"]?.GetValue<string>() is { } version
            ? $"Azurite {version}"
            : "Azurite";

    // Other work on the machine: load average and test hosts of a concurrent `dotnet test`.
    private static string Load()
    {
        var testHosts = Directory.EnumerateDirectories("/proc")
            .Count(d => int.TryParse(Path.GetFileName(d), out _) && Read(Path.Combine(d, "cmdline")).Contains("testhost", StringComparison.Ordinal));
        var average = Read("/proc/loadavg").Split(' ').FirstOrDefault() ?? "?";
        return string.Create(CultureInfo.InvariantCulture, $"load average {average}, {testHosts} test host process(es)");
    }

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
