using System.Net;
using System.Net.Sockets;

namespace Qlaw.Testing;

/// <summary>
/// A TCP relay on 127.0.0.1 in front of a real server (PostgreSQL): <see cref="Cut"/> drops every connection and
/// refuses new ones, as an outage would, and <see cref="Restore"/> accepts again — without touching the server behind.
/// </summary>
public sealed class TcpRelay : IAsyncDisposable
{
    private readonly int _target;
    private readonly List<TcpClient> _open = [];
    private readonly Lock _gate = new();
    private TcpListener? _listener;
    private CancellationTokenSource _accepting = new();

    public TcpRelay(int targetPort)
    {
        _target = targetPort;
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Restore();
    }

    public int Port { get; }

    /// <summary>Closes the listener and every relayed connection.</summary>
    public void Cut()
    {
        _accepting.Cancel();
        _listener?.Stop();
        _listener = null;
        lock (_gate)
        {
            foreach (var client in _open)
            {
                client.Dispose();
            }

            _open.Clear();
        }
    }

    /// <summary>Listens again on the same port.</summary>
    public void Restore()
    {
        _accepting = new CancellationTokenSource();
        _listener = new TcpListener(IPAddress.Loopback, Port);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start();
        _ = AcceptAsync(_listener, _accepting.Token);
    }

    public ValueTask DisposeAsync()
    {
        Cut();
        _accepting.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task AcceptAsync(TcpListener listener, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TcpClient inbound;
            try
            {
                inbound = await listener.AcceptTcpClientAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            var outbound = new TcpClient();
            try
            {
                await outbound.ConnectAsync(IPAddress.Loopback, _target, cancellationToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException)
            {
                inbound.Dispose();
                outbound.Dispose();
                continue;
            }

            lock (_gate)
            {
                _open.Add(inbound);
                _open.Add(outbound);
            }

            _ = PumpAsync(inbound, outbound);
            _ = PumpAsync(outbound, inbound);
        }
    }

    private static async Task PumpAsync(TcpClient from, TcpClient to)
    {
        try
        {
            await from.GetStream().CopyToAsync(to.GetStream());
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
            // The relay was cut or a side closed.
        }
        finally
        {
            from.Dispose();
            to.Dispose();
        }
    }
}
