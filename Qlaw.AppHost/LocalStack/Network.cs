using System.Net;
using System.Net.Sockets;

namespace Qlaw.AppHost.LocalStack;

/// <summary>Loopback ports: finding a free one and waiting for one to accept connections.</summary>
public static class Network
{
    /// <summary>A TCP port on 127.0.0.1 that nothing listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>True when something accepts connections on 127.0.0.1:<paramref name="port"/>.</summary>
    public static async Task<bool> IsListeningAsync(int port, CancellationToken cancellationToken = default)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Polls <paramref name="ready"/> until it is true, <paramref name="process"/> exits, or the timeout passes.</summary>
    public static async Task WaitUntilAsync(string what, Func<CancellationToken, Task<bool>> ready, ManagedProcess process, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (!cts.IsCancellationRequested)
        {
            if (process.HasExited)
            {
                throw new LocalStackException($"{what} exited while starting. Its last output:{Environment.NewLine}{process.Tail}");
            }

            try
            {
                if (await ready(cts.Token))
                {
                    return;
                }

                await Task.Delay(50, cts.Token);
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested)
            {
                break;
            }
        }

        throw new LocalStackException($"{what} was not ready within {timeout.TotalSeconds:0} s. Its last output:{Environment.NewLine}{process.Tail}");
    }
}
