using Federation.Nats.Client;

namespace Federation.Nats.Protocol;

/// <summary>The kinds of operation a NATS server sends to a client.</summary>
internal enum ServerOpKind
{
    Info,
    Msg,
    HMsg,
    Ping,
    Pong,
    Ok,
    Err,
}

/// <summary>One parsed server operation. <see cref="Text"/> holds the INFO JSON or the -ERR message.</summary>
internal sealed record ServerOp(ServerOpKind Kind)
{
    public static readonly ServerOp Ping = new(ServerOpKind.Ping);
    public static readonly ServerOp Pong = new(ServerOpKind.Pong);
    public static readonly ServerOp Ok = new(ServerOpKind.Ok);

    public string? Text { get; init; }

    public string? Subject { get; init; }

    public long Sid { get; init; }

    public string? ReplyTo { get; init; }

    public NatsHeaders? Headers { get; init; }

    public byte[] Payload { get; init; } = [];

    /// <summary>Bytes the frame occupied on the wire (control line, headers, payload, CRLFs).</summary>
    public int WireSize { get; init; }
}
