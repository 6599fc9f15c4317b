using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Federation.Nats.Tests;

/// <summary>A command the client sent, with its payload for PUB/HPUB.</summary>
internal sealed record ClientCommand(string Verb, string Line, byte[] Payload)
{
    public string[] Args => Line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..];

    public string PayloadText => Encoding.UTF8.GetString(Payload);
}

/// <summary>
/// A scripted NATS server on 127.0.0.1:0 (like nats.net's MockServer): sends INFO on accept, parses the client's
/// commands, answers PING (configurably), can reject CONNECT, and lets a test send arbitrary bytes, split and delayed,
/// or cut the socket.
/// </summary>
internal sealed class MockNatsServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Channel<MockClient> _accepted = Channel.CreateUnbounded<MockClient>();
    private readonly CancellationTokenSource _cts = new();
    private readonly List<MockClient> _clients = [];
    private readonly Task _acceptLoop;
    private int _connections;
    private int _disposed;

    public MockNatsServer()
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    public int Port { get; }

    public string Url => $"nats://127.0.0.1:{Port}";

    public long MaxPayload { get; set; } = 1024 * 1024;

    /// <summary>INFO JSON for the n-th connection (0-based).</summary>
    public Func<int, string>? InfoJson { get; set; }

    /// <summary>-ERR text sent in answer to CONNECT (then the socket is closed), or null to accept.</summary>
    public string? RejectConnectWith { get; set; }

    /// <summary>Answer only the handshake PING of each connection, ignore keep-alive PINGs.</summary>
    public bool IgnoreKeepAlivePings { get; set; }

    public int Connections => Volatile.Read(ref _connections);

    public async Task<MockClient> AcceptAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        return await _accepted.Reader.ReadAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _cts.CancelAsync();
        _listener.Stop();
        try
        {
            await _acceptLoop;
        }
        catch (Exception)
        {
        }

        MockClient[] clients;
        lock (_clients)
        {
            clients = [.. _clients];
        }

        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }

        _cts.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_cts.IsCancellationRequested)
        {
            TcpClient tcp;
            try
            {
                tcp = await _listener.AcceptTcpClientAsync(_cts.Token);
            }
            catch (Exception)
            {
                return;
            }

            var index = Interlocked.Increment(ref _connections) - 1;
            var info = InfoJson?.Invoke(index)
                ?? $"{{\"server_id\":\"MOCK{index}\",\"version\":\"2.9.10\",\"proto\":1,\"headers\":true,\"max_payload\":{MaxPayload}}}";
            var client = new MockClient(this, tcp, index);
            lock (_clients)
            {
                _clients.Add(client);
            }

            await client.SendAsync($"INFO {info}\r\n");
            client.Start();
            _accepted.Writer.TryWrite(client);
        }
    }

    internal sealed class MockClient : IAsyncDisposable
    {
        private readonly MockNatsServer _server;
        private readonly TcpClient _tcp;
        private readonly NetworkStream _stream;
        private readonly SemaphoreSlim _writeLock = new(1, 1);
        private readonly Channel<ClientCommand> _commands = Channel.CreateUnbounded<ClientCommand>();
        private readonly List<ClientCommand> _seen = [];
        private Task _readLoop = Task.CompletedTask;
        private int _pings;
        private int _closed;

        public MockClient(MockNatsServer server, TcpClient tcp, int index)
        {
            _server = server;
            _tcp = tcp;
            _stream = tcp.GetStream();
            Index = index;
        }

        public int Index { get; }

        public IReadOnlyList<ClientCommand> Seen
        {
            get
            {
                lock (_seen)
                {
                    return [.. _seen];
                }
            }
        }

        public void Start() => _readLoop = Task.Run(ReadLoopAsync);

        public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

        public async Task SendAsync(byte[] data)
        {
            await _writeLock.WaitAsync();
            try
            {
                await _stream.WriteAsync(data);
                await _stream.FlushAsync();
            }
            finally
            {
                _writeLock.Release();
            }
        }

        /// <summary>Writes <paramref name="data"/> in chunks of <paramref name="chunkSize"/> bytes with a pause between them (simulated slow network).</summary>
        public async Task SendSplitAsync(byte[] data, int chunkSize, TimeSpan pause)
        {
            for (var offset = 0; offset < data.Length; offset += chunkSize)
            {
                await SendAsync(data[offset..Math.Min(data.Length, offset + chunkSize)]);
                await Task.Delay(pause);
            }
        }

        /// <summary>Waits for the next command (not yet consumed by a previous wait) satisfying <paramref name="match"/>.</summary>
        public async Task<ClientCommand> WaitForAsync(Func<ClientCommand, bool> match, TimeSpan? timeout = null)
        {
            using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
            while (true)
            {
                ClientCommand command;
                try
                {
                    command = await _commands.Reader.ReadAsync(cts.Token);
                }
                catch (OperationCanceledException)
                {
                    throw new TimeoutException($"The client did not send the expected command; seen: {string.Join(" | ", Seen.Select(c => c.Line))}");
                }

                if (match(command))
                {
                    return command;
                }
            }
        }

        public Task<ClientCommand> WaitForVerbAsync(string verb, TimeSpan? timeout = null) => WaitForAsync(c => c.Verb == verb, timeout);

        public void Close()
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }

            _tcp.Client.LingerState = new LingerOption(true, 0);
            _tcp.Close();
        }

        public async ValueTask DisposeAsync()
        {
            Close();
            try
            {
                await _readLoop;
            }
            catch (Exception)
            {
            }

            _writeLock.Dispose();
        }

        private async Task ReadLoopAsync()
        {
            var reader = PipeReader.Create(_stream);
            try
            {
                while (true)
                {
                    var result = await reader.ReadAsync();
                    var buffer = result.Buffer;
                    while (TryReadCommand(ref buffer, out var command))
                    {
                        lock (_seen)
                        {
                            _seen.Add(command);
                        }

                        _commands.Writer.TryWrite(command);
                        await ReactAsync(command);
                    }

                    reader.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted)
                    {
                        return;
                    }
                }
            }
            catch (Exception)
            {
                // socket closed by either side
            }
            finally
            {
                _commands.Writer.TryComplete();
            }
        }

        private async Task ReactAsync(ClientCommand command)
        {
            switch (command.Verb)
            {
                case "CONNECT" when _server.RejectConnectWith is { } error:
                    await SendAsync($"-ERR '{error}'\r\n");
                    Close();
                    break;
                case "PING":
                    if (Interlocked.Increment(ref _pings) == 1 || !_server.IgnoreKeepAlivePings)
                    {
                        await SendAsync("PONG\r\n");
                    }

                    break;
            }
        }

        private static bool TryReadCommand(ref ReadOnlySequence<byte> buffer, out ClientCommand command)
        {
            command = null!;
            var reader = new SequenceReader<byte>(buffer);
            if (!reader.TryReadTo(out ReadOnlySequence<byte> lineBytes, "\r\n"u8))
            {
                return false;
            }

            var line = Encoding.UTF8.GetString(lineBytes);
            var verb = line.Split(' ')[0].ToUpperInvariant();
            var payload = Array.Empty<byte>();
            if (verb is "PUB" or "HPUB")
            {
                var size = int.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1], System.Globalization.CultureInfo.InvariantCulture);
                if (reader.Remaining < size + 2)
                {
                    return false;
                }

                payload = reader.UnreadSequence.Slice(0, size).ToArray();
                reader.Advance(size + 2);
            }

            command = new ClientCommand(verb, line, payload);
            buffer = buffer.Slice(reader.Position);
            return true;
        }
    }
}
