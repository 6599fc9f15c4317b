using System.Net;
using System.Net.Sockets;

namespace Federation.Testing.Brokers;

/// <summary>
/// A TCP listener on loopback that accepts every connection and never writes a byte: the peer that completes the TCP
/// handshake and then says nothing (a hung broker, a firewall that accepts, the wrong service on the port).
/// </summary>
public sealed class SilentPeer : IAsyncDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly List<Socket> accepted = [];
    private readonly CancellationTokenSource stopping = new();
    private readonly Task acceptLoop;

    /// <summary>Starts listening on a port the OS picks.</summary>
    public SilentPeer()
    {
        listener.Start();
        acceptLoop = Task.Run(AcceptAsync);
    }

    /// <summary>The loopback port the peer listens on.</summary>
    public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

    /// <summary>How many connections the peer accepted so far.</summary>
    public int Accepted
    {
        get
        {
            lock (accepted)
            {
                return accepted.Count;
            }
        }
    }

    /// <summary>Stops listening and closes every accepted connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        listener.Stop();
        try
        {
            await acceptLoop;
        }
        catch (OperationCanceledException)
        {
        }

        lock (accepted)
        {
            foreach (var socket in accepted)
            {
                socket.Dispose();
            }
        }

        stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(stopping.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            lock (accepted)
            {
                accepted.Add(socket);
            }
        }
    }
}
