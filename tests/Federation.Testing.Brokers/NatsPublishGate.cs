using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Federation.Testing.Brokers;

/// <summary>
/// A TCP proxy on loopback in front of a nats-server that holds back, once, a client's publish to a subject that starts
/// with a given prefix (and whatever that client sends after it) until <see cref="Release"/>: a test can then act on the
/// server between what the client read and what it writes, as another process would at that moment. Everything else
/// passes through at once. Works on plain-text connections only (no TLS).
/// </summary>
public sealed class NatsPublishGate : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _serverPort;
    private readonly byte[] _prefix;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<TcpClient> _sockets = [];
    private readonly Task _acceptLoop;
    private int _armed = 1;
    private int _seen;

    /// <summary>Starts listening on a port the OS picks, forwarding to the server at <paramref name="serverPort"/> on loopback.</summary>
    /// <param name="serverPort">The nats-server's client port.</param>
    /// <param name="subjectPrefix">The subject prefix of the publish to hold, such as <c>$JS.API.CONSUMER.CREATE.</c>.</param>
    public NatsPublishGate(int serverPort, string subjectPrefix)
    {
        _serverPort = serverPort;
        _prefix = Encoding.ASCII.GetBytes(" " + subjectPrefix);
        _listener.Start();
        _acceptLoop = Task.Run(AcceptAsync);
    }

    /// <summary>The URL of the proxy, to connect through it.</summary>
    public string Url => $"nats://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>Completes when a publish to the prefix is held.</summary>
    public Task Held => _held.Task;

    /// <summary>How many publishes to the prefix the clients sent through the proxy so far (counted as they pass; an approximation when one straddles two reads).</summary>
    public int Seen => Volatile.Read(ref _seen);

    /// <summary>Lets the held publish, and everything after it, through; the proxy holds nothing more.</summary>
    public void Release() => _released.TrySetResult();

    /// <summary>Stops listening and closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        Release();
        await _stopping.CancelAsync();
        _listener.Stop();
        lock (_sockets)
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }
        }

        try
        {
            await _acceptLoop;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stopping.Token);
            var server = new TcpClient();
            lock (_sockets)
            {
                _sockets.Add(client);
                _sockets.Add(server);
            }

            try
            {
                await server.ConnectAsync(IPAddress.Loopback, _serverPort, _stopping.Token);
            }
            catch (SocketException)
            {
                client.Dispose();
                continue;
            }

            _ = PumpAsync(server.GetStream(), client.GetStream(), gated: false);
            _ = PumpAsync(client.GetStream(), server.GetStream(), gated: true);
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool gated)
    {
        var buffer = new byte[64 * 1024];
        var tail = Array.Empty<byte>();
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, _stopping.Token);
                if (read == 0)
                {
                    break;
                }

                var hold = -1;
                if (gated)
                {
                    // The bytes kept from the last read let a subject that straddles two reads be found.
                    var window = new byte[tail.Length + read];
                    tail.CopyTo(window, 0);
                    Array.Copy(buffer, 0, window, tail.Length, read);
                    var at = IndexOf(window, _prefix, 0);
                    while (at >= 0)
                    {
                        Interlocked.Increment(ref _seen);
                        if (hold < 0 && Interlocked.Exchange(ref _armed, 0) == 1)
                        {
                            // From the start of that line in this read: the server acts on a publish only once it has it whole.
                            hold = Math.Max(0, LastLineStart(window, at) - tail.Length);
                        }

                        at = IndexOf(window, _prefix, at + 1);
                    }

                    tail = window[Math.Max(0, window.Length - (_prefix.Length - 1))..];
                }

                if (hold < 0)
                {
                    await to.WriteAsync(buffer.AsMemory(0, read), _stopping.Token);
                    continue;
                }

                await to.WriteAsync(buffer.AsMemory(0, hold), _stopping.Token);
                _held.TrySetResult();
                await _released.Task.WaitAsync(_stopping.Token);
                await to.WriteAsync(buffer.AsMemory(hold, read - hold), _stopping.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }

        from.Socket.Dispose();
        to.Socket.Dispose();
    }

    private static int LastLineStart(byte[] bytes, int before)
    {
        for (var i = before - 1; i > 0; i--)
        {
            if (bytes[i] == (byte)'\n')
            {
                return i + 1;
            }
        }

        return 0;
    }

    private static int IndexOf(byte[] bytes, byte[] pattern, int from) =>
        bytes.AsSpan(from).IndexOf(pattern) is var found and >= 0 ? from + found : -1;
}
