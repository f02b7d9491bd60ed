using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Qlaw.AppHost.LocalStack;

/// <summary>
/// A child process whose output is echoed line by line with a prefix (so a failing dependency is never silent) and
/// kept in a short tail for error messages. Disposing stops it: a polite signal first, SIGKILL after a grace period.
/// </summary>
public sealed partial class ManagedProcess : IAsyncDisposable
{
    private const int SigKill = 9;
    private const string SetSid = "/usr/bin/setsid";
    private readonly Process _process;
    private readonly Queue<string> _tail = new();
    private readonly string _name;
    private readonly int _stopSignal;
    private readonly bool _echo;

    private ManagedProcess(Process process, string name, int stopSignal, bool echo)
    {
        _process = process;
        _name = name;
        _stopSignal = stopSignal;
        _echo = echo;
    }

    /// <summary>SIGINT: PostgreSQL's fast shutdown, Ctrl+C for the others.</summary>
    public const int SigInt = 2;

    /// <summary>SIGTERM: graceful shutdown of a .NET host or Node process.</summary>
    public const int SigTerm = 15;

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The exit code, once the process has exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>The last lines the process printed, for error messages.</summary>
    public string Tail
    {
        get
        {
            lock (_tail)
            {
                return string.Join(Environment.NewLine, _tail);
            }
        }
    }

    /// <summary>Starts <paramref name="fileName"/>; <paramref name="echo"/> copies its output to this console.</summary>
    public static ManagedProcess Start(
        string name, string fileName, IEnumerable<string> arguments, IDictionary<string, string?>? environment = null,
        string? workingDirectory = null, int stopSignal = SigTerm, bool echo = true)
    {
        // Each child leads its own session and process group: Ctrl+C in a terminal reaches the launcher only, which
        // then stops the children in order (server first) instead of the terminal signalling all of them at once.
        // setsid execs the program in place, so the pid is the program's own.
        var ownGroup = OperatingSystem.IsLinux() && File.Exists(SetSid);
        var info = new ProcessStartInfo(ownGroup ? SetSid : fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        if (ownGroup)
        {
            info.ArgumentList.Add(fileName);
        }

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var managed = new ManagedProcess(process, name, stopSignal, echo);
        process.OutputDataReceived += (_, e) => managed.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => managed.OnLine(e.Data);
        if (!process.Start())
        {
            throw new LocalStackException($"{name} did not start ({fileName}).");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return managed;
    }

    /// <summary>Waits for the process to exit by itself.</summary>
    public Task WaitForExitAsync(CancellationToken cancellationToken = default) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>Kills the process at once, as a crash would (SIGKILL).</summary>
    public void Kill() => Signal(_process.Id, SigKill);

    /// <summary>Asks the process to stop and waits up to <paramref name="grace"/> before killing it.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }

        Signal(_process.Id, _stopSignal);
        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            if (_echo)
            {
                Console.Error.WriteLine($"{_name} did not stop within {grace.TotalSeconds:0} s; killing it.");
            }

            // The whole group: whatever the program started goes with it.
            Signal(-_process.Id, SigKill);
            Signal(_process.Id, SigKill);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(3));
        _process.Dispose();
    }

    /// <summary>Sends a signal to any process; false when it does not exist.</summary>
    public static bool Signal(int pid, int signal) => NativeMethods.Kill(pid, signal) == 0;

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_tail)
        {
            _tail.Enqueue(line);
            if (_tail.Count > 200)
            {
                _tail.Dequeue();
            }
        }

        if (_echo)
        {
            Console.Out.WriteLine($"[{_name}] {line}");
        }
    }

    private static partial class NativeMethods
    {
        [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
        internal static partial int Kill(int pid, int signal);
    }
}

/// <summary>The local stack cannot start; the message says what to do, in one line.</summary>
public sealed class LocalStackException(string message) : Exception(message);
