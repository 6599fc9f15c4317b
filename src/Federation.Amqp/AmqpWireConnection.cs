using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Federation.Core.Transport;

namespace Federation.Amqp;

/// <summary>
/// A minimal AMQP 0-9-1 client over a socket of its own, with one channel: just enough to take messages from a queue
/// with <c>basic.get</c> and settle them, while seeing each message's content header as the bytes the broker sent.
/// </summary>
/// <remarks>
/// It exists for one job RabbitMQ.Client cannot do: look at a message the client cannot parse (it closes its whole
/// connection over such a header, see <see cref="UnreadableMessageRemoval"/>). It connects as the URI says (TLS with the
/// same server check and client certificate, PLAIN or EXTERNAL), asks for no heartbeats (it lives for seconds), and
/// reads every frame within a deadline the caller's token carries.
/// </remarks>
internal sealed class AmqpWireConnection : IAsyncDisposable
{
    /// <summary>The frame type of a method frame (connection.start is the first a broker sends).</summary>
    internal const byte MethodFrame = 1;
    private const byte HeaderFrame = 2;
    private const byte BodyFrame = 3;
    private const byte HeartbeatFrame = 8;
    private const byte FrameEnd = 0xCE;
    private const ushort Channel = 1;
    private const uint DefaultFrameMax = 131_072;

    /// <summary>The AMQP 0-9-1 protocol header a client opens with.</summary>
    internal static ReadOnlySpan<byte> ProtocolHeader => "AMQP\0\0\u0009\u0001"u8;

    private readonly TcpClient tcp;
    private readonly Stream stream;
    private readonly string displayUri;
    // The broker's close texts name the user (a 403 says "refused for user '...'"): every one is scrubbed of these.
    private readonly string? user;
    private readonly string? password;
    private uint frameMax = DefaultFrameMax;
    private byte[] payload = new byte[4096];
    private int payloadLength;

    private AmqpWireConnection(TcpClient tcp, Stream stream, AmqpEndpoint endpoint)
    {
        this.tcp = tcp;
        this.stream = stream;
        displayUri = endpoint.DisplayUri;
        user = endpoint.User;
        password = endpoint.Password;
    }

    /// <summary>A message taken with <see cref="GetAsync"/>: its delivery tag, where it was published, and its content header.</summary>
    /// <param name="DeliveryTag">The tag to settle it with.</param>
    /// <param name="Exchange">The exchange it was published to.</param>
    /// <param name="RoutingKey">Its routing key.</param>
    /// <param name="ContentHeader">The content header frame's payload, exactly as received.</param>
    public sealed record Message(ulong DeliveryTag, string Exchange, string RoutingKey, byte[] ContentHeader);

    /// <summary>Connects, logs in, opens the vhost and one channel.</summary>
    /// <exception cref="TransportException">The broker refused, closed or broke the connection (the text names the reason, without credentials).</exception>
    public static async Task<AmqpWireConnection> OpenAsync(AmqpEndpoint endpoint, string connectionName, CancellationToken cancellationToken)
    {
        var tcp = new TcpClient { NoDelay = true };
        AmqpWireConnection? connection = null;
        try
        {
            await tcp.ConnectAsync(endpoint.Host, endpoint.Port, cancellationToken).ConfigureAwait(false);
            Stream stream = tcp.GetStream();
            if (endpoint.Tls)
            {
                stream = await AuthenticateAsync(stream, endpoint, cancellationToken).ConfigureAwait(false);
            }

            connection = new AmqpWireConnection(tcp, stream, endpoint);
            await connection.HandshakeAsync(endpoint, connectionName, cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (Exception error) when (error is IOException or SocketException or System.Security.Authentication.AuthenticationException)
        {
            await DisposeQuietlyAsync(connection, tcp).ConfigureAwait(false);
            throw new ConnectionLostException($"A connection of its own to {endpoint.DisplayUri} failed: {AmqpErrors.Scrub(error.Message, endpoint.User, endpoint.Password)}", error);
        }
        catch
        {
            await DisposeQuietlyAsync(connection, tcp).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Takes up to <paramref name="count"/> messages from the head of <paramref name="queue"/> without acknowledging them
    /// (the gets are pipelined); fewer when the queue runs out. They stay unacknowledged until settled or until the channel closes.
    /// </summary>
    public async Task<List<Message>> GetAsync(string queue, int count, CancellationToken cancellationToken)
    {
        var request = new FrameWriter();
        for (var i = 0; i < count; i++)
        {
            request.Method(Channel, 60, 70).Short(0).ShortString(queue).Octet(0); // basic.get, no-ack false
        }

        await request.SendAsync(stream, cancellationToken).ConfigureAwait(false);
        var messages = new List<Message>(count);
        for (var i = 0; i < count; i++)
        {
            var method = await ReadMethodAsync(cancellationToken).ConfigureAwait(false);
            if (method == (60, 72))
            {
                continue; // basic.get-empty: so will be the rest of this batch's answers
            }

            Expect(method, (60, 71), "basic.get-ok");
            var reader = new PayloadReader(payload.AsSpan(4, payloadLength - 4));
            var deliveryTag = reader.LongLong();
            reader.Octet(); // redelivered
            var exchange = reader.ShortString();
            var routingKey = reader.ShortString();
            var header = await ReadFrameAsync(cancellationToken).ConfigureAwait(false);
            if (header != HeaderFrame || payloadLength < 14)
            {
                throw Broken($"expected a content header, got a frame of type {header}");
            }

            var contentHeader = payload.AsSpan(0, payloadLength).ToArray();
            var bodySize = BinaryPrimitives.ReadUInt64BigEndian(contentHeader.AsSpan(4));
            for (ulong read = 0; read < bodySize;)
            {
                // The body is not needed: it is read past, frame by frame, and not kept.
                if (await ReadFrameAsync(cancellationToken).ConfigureAwait(false) != BodyFrame)
                {
                    throw Broken("expected a body frame");
                }

                read += (ulong)payloadLength;
            }

            messages.Add(new Message(deliveryTag, exchange, routingKey, contentHeader));
        }

        return messages;
    }

    /// <summary>Sends <c>basic.reject</c> without requeue: the broker drops the message, or dead-letters it when the queue has a dead-letter exchange.</summary>
    public Task RejectAsync(ulong deliveryTag, CancellationToken cancellationToken)
    {
        var frame = new FrameWriter();
        frame.Method(Channel, 60, 90).LongLong(deliveryTag).Octet(0);
        return frame.SendAsync(stream, cancellationToken);
    }

    /// <summary>
    /// Closes the channel and waits for the broker's answer, which it sends after everything sent before it on the
    /// channel: every reject has been applied when this returns, and every message taken and not settled is back in
    /// its queue, in its place.
    /// </summary>
    public async Task CloseChannelAsync(CancellationToken cancellationToken)
    {
        var frame = new FrameWriter();
        frame.Method(Channel, 20, 40).Short(200).ShortString("done").Short(0).Short(0);
        await frame.SendAsync(stream, cancellationToken).ConfigureAwait(false);
        Expect(await ReadMethodAsync(cancellationToken).ConfigureAwait(false), (20, 41), "channel.close-ok");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            var frame = new FrameWriter();
            frame.Method(0, 10, 50).Short(200).ShortString("done").Short(0).Short(0);
            await frame.SendAsync(stream, timeout.Token).ConfigureAwait(false);
            _ = await ReadMethodAsync(timeout.Token).ConfigureAwait(false); // connection.close-ok, or anything: it closes either way
        }
#pragma warning disable CA1031 // Closing: whatever goes wrong, the socket goes below.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        await stream.DisposeAsync().ConfigureAwait(false);
        tcp.Dispose();
    }

    private static async Task DisposeQuietlyAsync(AmqpWireConnection? connection, TcpClient tcp)
    {
        if (connection is not null)
        {
            await connection.stream.DisposeAsync().ConfigureAwait(false);
        }

        tcp.Dispose();
    }

    private static async Task<Stream> AuthenticateAsync(Stream inner, AmqpEndpoint endpoint, CancellationToken cancellationToken)
    {
        var serverName = endpoint.ServerName ?? endpoint.Host;
        var trustedCas = endpoint.CaCertFile is { } caCertFile ? AmqpTlsFiles.LoadCaCertificates(caCertFile) : null;
        var check = new ServerCertificateCheck(serverName, endpoint.VerifyPeer, trustedCas);
        var tls = new SslStream(inner, leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            RemoteCertificateValidationCallback = check.Validate,
        };
        if (endpoint.CertFile is { } certFile)
        {
            options.ClientCertificates = [AmqpTlsFiles.LoadClientCertificate(certFile, endpoint.KeyFile)];
        }

        try
        {
            await tls.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
            return tls;
        }
        catch (System.Security.Authentication.AuthenticationException) when (check.Failure is { } refusal)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new ConnectionLostException($"TLS refused the server at {endpoint.DisplayUri}: {refusal}");
        }
    }

    private async Task HandshakeAsync(AmqpEndpoint endpoint, string connectionName, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(ProtocolHeader.ToArray(), cancellationToken).ConfigureAwait(false);
        Expect(await ReadMethodAsync(cancellationToken).ConfigureAwait(false), (10, 10), "connection.start");
        var mechanism = endpoint.ExternalAuthentication ? "EXTERNAL" : "PLAIN";
        var response = endpoint.ExternalAuthentication ? [] : Encoding.UTF8.GetBytes($"\0{endpoint.User}\0{endpoint.Password}");
        var startOk = new FrameWriter();
        startOk.Method(0, 10, 11)
            .Table(("connection_name", connectionName), ("product", "Federation.Core"))
            .ShortString(mechanism)
            .LongString(response)
            .ShortString("en_US");
        await startOk.SendAsync(stream, cancellationToken).ConfigureAwait(false);

        var tune = await ReadMethodAsync(cancellationToken).ConfigureAwait(false);
        if (tune == (10, 50))
        {
            throw new AuthenticationFailedException($"The broker at {displayUri} refused the login: {CloseText(endpoint)}");
        }

        Expect(tune, (10, 30), "connection.tune");
        var reader = new PayloadReader(payload.AsSpan(4, payloadLength - 4));
        var channelMax = reader.Short();
        var serverFrameMax = reader.Long();
        frameMax = serverFrameMax == 0 ? DefaultFrameMax : serverFrameMax;
        var handshake = new FrameWriter();
        handshake.Method(0, 10, 31).Short(channelMax == 0 ? (ushort)1 : Math.Min(channelMax, (ushort)1)).Long(frameMax).Short(0); // no heartbeats
        handshake.Method(0, 10, 40).ShortString(endpoint.VirtualHost).ShortString(string.Empty).Octet(0);
        await handshake.SendAsync(stream, cancellationToken).ConfigureAwait(false);
        var opened = await ReadMethodAsync(cancellationToken).ConfigureAwait(false);
        if (opened == (10, 50))
        {
            throw new AuthenticationFailedException($"The broker at {displayUri} refused the vhost: {CloseText(endpoint)}");
        }

        Expect(opened, (10, 41), "connection.open-ok");
        var channel = new FrameWriter();
        channel.Method(Channel, 20, 10).ShortString(string.Empty);
        await channel.SendAsync(stream, cancellationToken).ConfigureAwait(false);
        Expect(await ReadMethodAsync(cancellationToken).ConfigureAwait(false), (20, 11), "channel.open-ok");
    }

    /// <summary>Reads frames up to the next method frame; a close from the broker is thrown with its reason.</summary>
    private async Task<(ushort Class, ushort Method)> ReadMethodAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var type = await ReadFrameAsync(cancellationToken).ConfigureAwait(false);
            if (type == HeartbeatFrame)
            {
                continue;
            }

            if (type != MethodFrame || payloadLength < 4)
            {
                throw Broken($"expected a method, got a frame of type {type}");
            }

            var id = (BinaryPrimitives.ReadUInt16BigEndian(payload), BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(2)));
            switch (id)
            {
                case (10, 60) or (10, 61):
                    continue; // connection.blocked / unblocked: nothing is published here
                case (20, 40):
                    // The channel failed (the queue is missing, say): acknowledge the close, then report it.
                    var text = CloseReason();
                    var closeOk = new FrameWriter();
                    closeOk.Method(Channel, 20, 41);
                    await closeOk.SendAsync(stream, cancellationToken).ConfigureAwait(false);
                    throw new TransportException($"The broker at {displayUri} closed the channel: {text}");
            }

            return id;
        }
    }

    private async Task<byte> ReadFrameAsync(CancellationToken cancellationToken)
    {
        var head = new byte[7];
        await stream.ReadExactlyAsync(head, cancellationToken).ConfigureAwait(false);
        var size = BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(3));
        if (size > frameMax)
        {
            throw Broken($"a frame of {size} bytes exceeds frame_max {frameMax}");
        }

        if (payload.Length < size + 1)
        {
            payload = new byte[Math.Max(size + 1, (uint)payload.Length * 2)];
        }

        await stream.ReadExactlyAsync(payload.AsMemory(0, (int)size + 1), cancellationToken).ConfigureAwait(false);
        if (payload[size] != FrameEnd)
        {
            throw Broken("a frame does not end with frame-end");
        }

        payloadLength = (int)size;
        return head[0];
    }

    private void Expect((ushort Class, ushort Method) got, (ushort Class, ushort Method) expected, string name)
    {
        if (got == (10, 50))
        {
            throw new ConnectionLostException($"The broker at {displayUri} closed the connection: {CloseReason()}");
        }

        if (got != expected)
        {
            throw Broken($"expected {name}, got method {got.Class}.{got.Method}");
        }
    }

    private string CloseText(AmqpEndpoint endpoint) => AmqpErrors.Scrub(CloseReason(), endpoint.User, endpoint.Password);

    /// <summary>The reply code and text of the connection.close or channel.close in the payload.</summary>
    private string CloseReason()
    {
        var reader = new PayloadReader(payload.AsSpan(4, payloadLength - 4));
        var code = reader.Short();
        return AmqpErrors.Scrub($"{code} {reader.ShortString()}", user, password);
    }

    private ConnectionLostException Broken(string what) => new($"A connection of its own to {displayUri} broke the protocol: {what}.");

    /// <summary>Reads AMQP's big-endian fields from a method payload.</summary>
    private ref struct PayloadReader(ReadOnlySpan<byte> span)
    {
        private readonly ReadOnlySpan<byte> span = span;
        private int position;

        public byte Octet() => span[position++];

        public ushort Short()
        {
            var value = BinaryPrimitives.ReadUInt16BigEndian(span[position..]);
            position += 2;
            return value;
        }

        public uint Long()
        {
            var value = BinaryPrimitives.ReadUInt32BigEndian(span[position..]);
            position += 4;
            return value;
        }

        public ulong LongLong()
        {
            var value = BinaryPrimitives.ReadUInt64BigEndian(span[position..]);
            position += 8;
            return value;
        }

        public string ShortString()
        {
            int length = span[position];
            var value = Encoding.UTF8.GetString(span.Slice(position + 1, length));
            position += 1 + length;
            return value;
        }
    }

    /// <summary>Builds method frames and sends them in one write.</summary>
    private sealed class FrameWriter
    {
        private readonly List<byte> buffer = new(256);
        private int frameStart = -1;

        public FrameWriter Method(ushort channel, ushort classId, ushort methodId)
        {
            End();
            buffer.Add(MethodFrame);
            Write16(channel);
            frameStart = buffer.Count;
            Write32(0); // the size, filled in by End
            Write16(classId);
            Write16(methodId);
            return this;
        }

        public FrameWriter Octet(byte value)
        {
            buffer.Add(value);
            return this;
        }

        public FrameWriter Short(ushort value)
        {
            Write16(value);
            return this;
        }

        public FrameWriter Long(uint value)
        {
            Write32(value);
            return this;
        }

        public FrameWriter LongLong(ulong value)
        {
            Span<byte> bytes = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
            buffer.AddRange(bytes);
            return this;
        }

        public FrameWriter ShortString(string value)
        {
            var bytes = Encoding.UTF8.GetBytes(value);
            if (bytes.Length > byte.MaxValue)
            {
                throw new ArgumentException($"'{value}' is longer than an AMQP short string (255 bytes).", nameof(value));
            }

            buffer.Add((byte)bytes.Length);
            buffer.AddRange(bytes);
            return this;
        }

        public FrameWriter LongString(byte[] value)
        {
            Write32((uint)value.Length);
            buffer.AddRange(value);
            return this;
        }

        public FrameWriter Table(params (string Key, string Value)[] fields)
        {
            var table = new FrameWriter();
            foreach (var (key, value) in fields)
            {
                table.ShortString(key);
                table.buffer.Add((byte)'S');
                table.LongString(Encoding.UTF8.GetBytes(value));
            }

            Write32((uint)table.buffer.Count);
            buffer.AddRange(table.buffer);
            return this;
        }

        public async Task SendAsync(Stream stream, CancellationToken cancellationToken)
        {
            End();
            await stream.WriteAsync(buffer.ToArray(), cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        private void End()
        {
            if (frameStart < 0)
            {
                return;
            }

            var size = buffer.Count - frameStart - 4;
            BinaryPrimitives.WriteUInt32BigEndian(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(buffer)[frameStart..], (uint)size);
            buffer.Add(FrameEnd);
            frameStart = -1;
        }

        private void Write16(ushort value)
        {
            Span<byte> bytes = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(bytes, value);
            buffer.AddRange(bytes);
        }

        private void Write32(uint value)
        {
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
            buffer.AddRange(bytes);
        }
    }
}
