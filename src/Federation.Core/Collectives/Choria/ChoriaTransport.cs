namespace Federation.Core.Collectives.Choria;

/// <summary>
/// Choria's transport envelope: the JSON a Choria client or node publishes on NATS. <see cref="Data"/> is the signed
/// secure request or reply, carried base64-encoded and never opened here. Fields Go would omit when empty are null or
/// empty here; fields Choria does not define are not kept (go-choria's broker drops them too when it re-encodes).
/// </summary>
internal sealed record ChoriaTransport
{
    /// <summary>Which version the message was read as, and is written as.</summary>
    public required ChoriaProtocolVersion Version { get; init; }

    /// <summary>The decoded <c>data</c> bytes.</summary>
    public ReadOnlyMemory<byte> Data { get; init; }

    /// <summary>v1 <c>headers.reply-to</c>, v2 <c>headers.reply</c>: where replies go; null when absent or empty.</summary>
    public string? ReplyTo { get; init; }

    /// <summary>v1 <c>headers.mc_sender</c>, v2 <c>headers.sender</c>: the sending identity; null when absent or empty.</summary>
    public string? Sender { get; init; }

    /// <summary>v1 <c>headers.seen-by</c>, v2 <c>headers.trace</c>: the hops so far, oldest first.</summary>
    public IReadOnlyList<SeenByHop> SeenBy { get; init; } = [];

    /// <summary>The federation block; null when the message is not federated.</summary>
    public ChoriaFederationHeader? Federation { get; init; }
}
