using System.Globalization;

namespace Qlaw.Bench.Measure;

/// <summary>CPU time and resident memory of a process (and optionally its children) from /proc.</summary>
internal static class ProcessStats
{
    // Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every Linux this runs on).
    private const double TicksPerSecond = 100;

    /// <summary>Resident set size in bytes; 0 when the process is gone.</summary>
    public static long RssBytes(int pid)
    {
        foreach (var line in ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    /// <summary>
    /// CPU seconds used so far (user + system); with <paramref name="withChildren"/>, also its live children's and the
    /// reaped ones' (PostgreSQL runs a process per connection).
    /// </summary>
    public static double CpuSeconds(int pid, bool withChildren = false)
    {
        if (Stat(pid) is not { } stat)
        {
            return 0;
        }

        var ticks = stat.UserTicks + stat.SystemTicks;
        if (withChildren)
        {
            ticks += stat.ChildUserTicks + stat.ChildSystemTicks;
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (int.TryParse(Path.GetFileName(dir), out var child) && Stat(child) is { } c && c.ParentId == pid)
                {
                    ticks += c.UserTicks + c.SystemTicks;
                }
            }
        }

        return ticks / TicksPerSecond;
    }

    private sealed record ProcStat(int ParentId, long UserTicks, long SystemTicks, long ChildUserTicks, long ChildSystemTicks);

    private static ProcStat? Stat(int pid)
    {
        var text = ReadLines($"/proc/{pid}/stat").FirstOrDefault();
        if (text is null)
        {
            return null;
        }

        // Fields after the command name, which is in parentheses and may hold spaces: state ppid … utime(14) stime cutime cstime.
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        long Field(int number) => long.Parse(fields[number - 3], CultureInfo.InvariantCulture);
        return new ProcStat((int)Field(4), Field(14), Field(15), Field(16), Field(17));
    }

    private static string[] ReadLines(string path)
    {
        try
        {
            return File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
