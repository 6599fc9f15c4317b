namespace Federation.Nats.Client;

/// <summary>A received message.</summary>
public sealed class NatsMsg
{
    internal NatsMsg(string subject, string? replyTo, NatsHeaders? headers, ReadOnlyMemory<byte> data, NatsConnection? connection)
    {
        Subject = subject;
        ReplyTo = replyTo;
        Headers = headers;
        Data = data;
        Connection = connection;
    }

    /// <summary>The subject it was published to.</summary>
    public string Subject { get; }

    /// <summary>The reply subject, if the publisher expects an answer.</summary>
    public string? ReplyTo { get; }

    /// <summary>Headers (null when the message had none).</summary>
    public NatsHeaders? Headers { get; }

    /// <summary>The payload.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    internal NatsConnection? Connection { get; }

    /// <summary>Publishes a reply to <see cref="ReplyTo"/>.</summary>
    public ValueTask ReplyAsync(ReadOnlyMemory<byte> data, NatsHeaders? headers = null, CancellationToken cancellationToken = default)
    {
        if (ReplyTo is null)
        {
            throw new InvalidOperationException($"The message on '{Subject}' has no reply subject.");
        }

        if (Connection is null)
        {
            throw new InvalidOperationException("The message is not bound to a connection.");
        }

        return Connection.PublishAsync(ReplyTo, data, headers, replyTo: null, cancellationToken);
    }
}

/// <summary>Information the server sent in INFO.</summary>
/// <param name="ServerId">The server's id.</param>
/// <param name="ServerName">The server's name.</param>
/// <param name="Version">The server's version.</param>
/// <param name="MaxPayload">Largest message (headers + payload) the server accepts.</param>
/// <param name="Headers">Whether the server supports headers.</param>
/// <param name="AuthRequired">Whether the server requires credentials.</param>
/// <param name="TlsRequired">Whether the server requires TLS.</param>
/// <param name="ConnectUrls">Other cluster members' client URLs.</param>
/// <param name="LameDuckMode">The server is shutting down and asks clients to move.</param>
public sealed record NatsServerInfo(
    string ServerId,
    string? ServerName,
    string? Version,
    long MaxPayload,
    bool Headers,
    bool AuthRequired,
    bool TlsRequired,
    IReadOnlyList<string> ConnectUrls,
    bool LameDuckMode);

/// <summary>A snapshot of the connection's counters.</summary>
/// <param name="InMsgs">Messages received.</param>
/// <param name="InBytes">Bytes of received messages (headers + payload).</param>
/// <param name="OutMsgs">Messages published.</param>
/// <param name="OutBytes">Bytes of published messages (headers + payload).</param>
/// <param name="Reconnects">Successful reconnects.</param>
/// <param name="DroppedMessages">Received messages dropped because a subscription buffer was full.</param>
/// <param name="LostPublishes">Publishes accepted but discarded because the socket died before they were written.</param>
/// <param name="ProtocolErrors">Sockets abandoned because the server sent invalid protocol.</param>
public sealed record NatsStatistics(
    long InMsgs,
    long InBytes,
    long OutMsgs,
    long OutBytes,
    long Reconnects,
    long DroppedMessages,
    long LostPublishes,
    long ProtocolErrors);

/// <summary>Connection states.</summary>
public enum NatsConnectionState
{
    /// <summary>Not yet connected.</summary>
    Initial,

    /// <summary>Handshaking with a server for the first time.</summary>
    Connecting,

    /// <summary>Connected and handshaken.</summary>
    Connected,

    /// <summary>Lost the server; trying again.</summary>
    Reconnecting,

    /// <summary>Draining before close.</summary>
    Draining,

    /// <summary>Closed for good (disposed, drained or out of reconnect attempts).</summary>
    Closed,
}

/// <summary>What happened to the connection.</summary>
public enum NatsConnectionEventKind
{
    /// <summary>First connection established.</summary>
    Connected,

    /// <summary>The socket was lost (a reconnect follows unless closing).</summary>
    Disconnected,

    /// <summary>Connection re-established and subscriptions replayed.</summary>
    Reconnected,

    /// <summary>A reconnect attempt failed.</summary>
    ReconnectFailed,

    /// <summary>The server sent -ERR that did not close the connection (e.g. a permissions violation).</summary>
    ServerError,

    /// <summary>Closed for good.</summary>
    Closed,
}

/// <summary>A connection event, raised off the read loop.</summary>
public sealed class NatsConnectionEventArgs : EventArgs
{
    /// <summary>Creates the arguments.</summary>
    public NatsConnectionEventArgs(NatsConnectionEventKind kind, string? server, Exception? error)
    {
        Kind = kind;
        Server = server;
        Error = error;
    }

    /// <summary>What happened.</summary>
    public NatsConnectionEventKind Kind { get; }

    /// <summary>The server (host:port, never credentials).</summary>
    public string? Server { get; }

    /// <summary>The cause, when there is one.</summary>
    public Exception? Error { get; }
}
