using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// A NATS client that writes the protocol by hand, so that a test can publish what no well-behaved client would: a header
/// block the official client cannot parse. The server only checks the block's length and its <c>NATS/1.0</c> prefix.
/// </summary>
internal sealed class RawNatsClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;

    private RawNatsClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _reader = new StreamReader(_stream, Encoding.ASCII);
    }

    /// <summary>Connects, reads INFO and sends CONNECT with headers on; the server has processed it when this returns.</summary>
    public static async Task<RawNatsClient> ConnectAsync(int port)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var client = new RawNatsClient(tcp);
        var info = await client._reader.ReadLineAsync();
        Assert.StartsWith("INFO ", info, StringComparison.Ordinal);
        await client.WriteAsync("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1}\r\n"u8.ToArray());
        await client.PingAsync();
        return client;
    }

    /// <summary>HPUB with <paramref name="headerBlock"/> exactly as given (its length is counted here).</summary>
    public Task HpubAsync(string subject, string headerBlock, string payload)
    {
        var headers = Encoding.ASCII.GetBytes(headerBlock);
        var body = Encoding.ASCII.GetBytes(payload);
        var command = Encoding.ASCII.GetBytes($"HPUB {subject} {headers.Length} {headers.Length + body.Length}\r\n");
        return WriteAsync([.. command, .. headers, .. body, .. "\r\n"u8]);
    }

    public Task PubAsync(string subject, string payload) =>
        WriteAsync(Encoding.ASCII.GetBytes($"PUB {subject} {Encoding.ASCII.GetByteCount(payload)}\r\n{payload}\r\n"));

    /// <summary>PING, then waits for the PONG: the server has processed everything sent before (fails on <c>-ERR</c>).</summary>
    public async Task PingAsync()
    {
        await WriteAsync("PING\r\n"u8.ToArray());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var line = await _reader.ReadLineAsync(timeout.Token);
            Assert.NotNull(line);
            Assert.False(line.StartsWith("-ERR", StringComparison.Ordinal), "The server refused: " + line);
            if (line == "PONG")
            {
                return;
            }

            if (line == "PING")
            {
                await WriteAsync("PONG\r\n"u8.ToArray());
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _reader.Dispose();
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }

    private async Task WriteAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }
}
