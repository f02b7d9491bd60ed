using System.Diagnostics;

namespace Qlaw.AppHost.LocalStack;

/// <summary>
/// Keeps Qlaw.Server running for the launcher: a server that exits by itself (a crash, a kill -9) is started again
/// while PostgreSQL and Azurite keep running, at most <paramref name="maxRestarts"/> times in a row; a server that stayed
/// up for <paramref name="stableAfter"/> has its count reset. Stopping (the token) stops the server before returning.
/// </summary>
public sealed class SupervisedServer(Func<Task<ServerProcess>> start, int maxRestarts, TimeSpan stableAfter)
{
    /// <summary>Runs until <paramref name="stop"/> (returns 0) or until the server keeps failing (returns 1).</summary>
    public async Task<int> RunAsync(ServerProcess first, CancellationToken stop)
    {
        ServerProcess? server = first;
        var restarts = 0;
        try
        {
            while (true)
            {
                var started = Stopwatch.GetTimestamp();
                await server.WaitForExitAsync(stop);
                var code = server.ExitCode;
                await server.DisposeAsync();
                server = null;
                restarts = Stopwatch.GetElapsedTime(started) >= stableAfter ? 1 : restarts + 1;
                if (restarts > maxRestarts)
                {
                    Console.Error.WriteLine($"Qlaw.Server exited (code {code}) {maxRestarts + 1} times in a row; stopping the stack.");
                    return 1;
                }

                Console.Error.WriteLine($"Qlaw.Server exited (code {code}); restarting it ({restarts} of {maxRestarts}).");
                server = await start();
                Console.WriteLine($"Qlaw.Server is back on {server.BaseAddress}.");
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 0;
        }
        finally
        {
            // First of the stack to stop, so it never outlives the database and storage it uses.
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
    }
}
