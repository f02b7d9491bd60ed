using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Qlaw.Data;

namespace Qlaw.Core.Tests;

/// <summary>
/// The folders of Qlaw.Core depend on each other in one direction only: no folder reaches back to one that needs it, the
/// run log (<c>RunStore</c>) stands below everything that writes through it, and the root holds only the composition
/// (the hosts' wiring), which no folder uses.
/// </summary>
public sealed partial class CoreStructureTests
{
    [Fact]
    public void Core_folders_form_no_cycle()
    {
        var core = Path.Combine(RepositoryRoot(), "Qlaw.Core");
        var graph = Directory.GetDirectories(core)
            .Select(Path.GetFileName)
            .Where(folder => folder is not ("bin" or "obj"))
            .ToDictionary(
                folder => folder!,
                folder => Directory.GetFiles(Path.Combine(core, folder!), "*.cs", SearchOption.AllDirectories)
                    .SelectMany(file => CoreUsing().Matches(File.ReadAllText(file)).Select(m => m.Groups[1].Value))
                    .Where(used => used != folder)
                    .ToHashSet());

        var cycle = FindCycle(graph);

        Assert.True(cycle is null, $"Qlaw.Core folders depend on each other in a cycle: {string.Join(" → ", cycle ?? [])}");
        Assert.Empty(graph["Routing"]);

        // The run log knows no turn, route, stream, agent or command, only its settings: streams get its events through an
        // interface they implement.
        Assert.Subset(new HashSet<string> { "Configuration" }, graph["RunStore"]);

        // A folder sees the root namespace's types without a using: none of them may be named there.
        var rootTypes = Directory.GetFiles(core, "*.cs")
            .SelectMany(file => TypeDeclaration().Matches(File.ReadAllText(file)).Select(m => m.Groups[1].Value))
            .ToList();
        var namedInFolders = graph.Keys
            .SelectMany(folder => Directory.GetFiles(Path.Combine(core, folder), "*.cs", SearchOption.AllDirectories))
            .Select(file => (Name: Path.GetFileName(file), Code: Comment().Replace(File.ReadAllText(file), "")))
            .SelectMany(file => rootTypes.Where(type => Regex.IsMatch(file.Code, $@"\b{type}\b")).Select(type => $"{type} in {file.Name}"))
            .ToList();
        Assert.NotEmpty(rootTypes);
        Assert.Empty(namedInFolders);
    }

    [Fact]
    public void Rows_are_inserted_by_the_model_not_by_a_column_list_kept_by_hand()
    {
        // A run's rows are inserted by EF Core's model of their entity (SaveChanges, or EntityRows for a raw batch).
        var handKept = ProductFiles()
            .SelectMany(file => HandKeptInsert().Matches(File.ReadAllText(file)).Select(m => $"{Path.GetFileName(file)}: {m.Value}"))
            .ToList();

        Assert.Empty(handKept);
    }

    [Fact]
    public void Every_column_a_hand_written_update_sets_is_one_of_the_model()
    {
        // The few statements written as SQL (an UPDATE batched with the run's lock) name columns EF Core's model maps.
        using var db = new QlawDbContext(new DbContextOptionsBuilder<QlawDbContext>().UseQlawPostgres("Host=127.0.0.1").Options);
        var columns = db.Model.GetEntityTypes().ToDictionary(e => e.GetTableName()!, e => e.GetProperties().Select(p => p.GetColumnName()).ToHashSet());
        var updates = ProductFiles()
            .Select(file => (Name: Path.GetFileName(file), Code: Concatenation().Replace(File.ReadAllText(file), "")))
            .SelectMany(file => Update().Matches(file.Code).Select(m => (file.Name, Table: m.Groups[1].Value, Set: m.Groups[2].Value)))
            .ToList();
        var unknown = updates
            .SelectMany(u => Assignment().Matches(u.Set).Select(a => a.Groups[1].Value)
                .Where(column => !columns.TryGetValue(u.Table, out var known) || !known.Contains(column))
                .Select(column => $"{u.Name}: {u.Table}.{column}"))
            .ToList();

        Assert.NotEmpty(updates);
        Assert.Empty(unknown);
    }

    [Fact]
    public void A_runs_rows_are_written_by_the_statements_of_its_write_not_by_the_change_tracker()
    {
        // One way to write each kind of a run's rows: inserted by the model and updated by SQL, in the run log's batch.
        // EF Core's change tracker and ExecuteUpdate write only workflows and the outbox's delivery marks.
        var tracked = ProductFiles()
            .SelectMany(file => TrackedWrite().Matches(Comment().Replace(File.ReadAllText(file), "")).Select(m => $"{Path.GetFileName(file)}: {m.Value}"))
            .ToList();

        Assert.Empty(tracked);
    }

    private static IEnumerable<string> ProductFiles() =>
        ProductProjects
            .SelectMany(project => Directory.GetFiles(Path.Combine(RepositoryRoot(), project), "*.cs", SearchOption.AllDirectories))
            .Where(file => !file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    private static readonly string[] ProductProjects = ["Qlaw.Core", "Qlaw.Api", "Qlaw.Server", "Qlaw.Functions"];

    private static string RepositoryRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Qlaw.sln")))
        {
            root = root.Parent ?? throw new InvalidOperationException("Qlaw.sln not found above the test's folder.");
        }

        return root.FullName;
    }

    // Depth-first search; returns the folders of the first cycle found.
    private static List<string>? FindCycle(Dictionary<string, HashSet<string>> graph)
    {
        var state = new Dictionary<string, int>();
        var path = new List<string>();

        List<string>? Visit(string folder)
        {
            state[folder] = 1;
            path.Add(folder);
            foreach (var next in graph.GetValueOrDefault(folder, []))
            {
                if (state.GetValueOrDefault(next) == 1)
                {
                    return [.. path.Skip(path.IndexOf(next)), next];
                }

                if (state.GetValueOrDefault(next) == 0 && Visit(next) is { } found)
                {
                    return found;
                }
            }

            state[folder] = 2;
            path.RemoveAt(path.Count - 1);
            return null;
        }

        return graph.Keys.Where(f => state.GetValueOrDefault(f) == 0).Select(Visit).FirstOrDefault(c => c is not null);
    }

    // An INSERT naming its table and columns in the text: "INSERT INTO steps (run_id, ...".
    [GeneratedRegex(@"INSERT INTO [a-z_]+ \(", RegexOptions.IgnoreCase)]
    private static partial Regex HandKeptInsert();

    // An entity of a run's tables added to the change tracker, or a set of them updated by ExecuteUpdate (the counters of
    // QlawTelemetry have the names of tables too).
    [GeneratedRegex(@"(?<!QlawTelemetry)\.(?:Runs|Steps|Handoffs|ToolCalls|RunEvents|AuditLogs|RunSignals)\.Add\(|\.(?:Runs|Steps|Handoffs|ToolCalls|RunEvents|AuditLogs)\b[^;]*?\.ExecuteUpdateAsync\(", RegexOptions.Singleline)]
    private static partial Regex TrackedWrite();

    // "… " + "…" (or + $"…"): a statement written over several literals, read as one.
    [GeneratedRegex(@"""\s*\+\s*\$?""")]
    private static partial Regex Concatenation();

    [GeneratedRegex(@"UPDATE (\w+) SET (.+?) WHERE", RegexOptions.Singleline)]
    private static partial Regex Update();

    // The column of each assignment of a SET list.
    [GeneratedRegex(@"(?:^|,)\s*(\w+)\s*=")]
    private static partial Regex Assignment();

    [GeneratedRegex(@"^using Qlaw\.Core\.(\w+);", RegexOptions.Multiline)]
    private static partial Regex CoreUsing();

    [GeneratedRegex(@"^public (?:static |sealed )*(?:partial )?(?:class|record|interface|enum) (\w+)", RegexOptions.Multiline)]
    private static partial Regex TypeDeclaration();

    [GeneratedRegex("//.*")]
    private static partial Regex Comment();
}
