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
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
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
            Signal(_process.Id, SigKill);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(15));
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
