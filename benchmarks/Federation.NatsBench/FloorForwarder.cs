using System.Buffers;
using NATS.Client.Core;

namespace Federation.NatsBench;

/// <summary>
/// The least a forwarder on NATS.Client.Core can do: a subscription read on the client's read loop (no channel, no
/// reader task) that republishes each message's body under the same subject on the other server. No federation at all:
/// no queue, no acknowledgement, no interest tracking, no loss accounting. It is the floor that any link on the official
/// client stands on, measured between the same servers in the same run, so the gap between it and the leafnode is the
/// client's, and the gap between our link and it is ours.
/// <para>A message whose subject ends in <c>.trail</c> is republished with a one-hop <c>x-received-from</c> header, as a
/// link writes it: every federated message carries its hop trail (the plugin's cycle detection needs it), so the
/// forwarder writes it and the receiving client parses it. That variant is the floor of a link that keeps the plugin's
/// semantics.</para>
/// </summary>
internal sealed class FloorForwarder : NatsSubBase
{
    /// <summary>A one-hop trail as the link writes it on NATS (see <c>NatsMessageMapping</c>).</summary>
    private const string Trail = "uri=nats%3A%2F%2F127.0.0.1%3A4222;exchange=floor;redelivered=false;cluster-name=bench-hub;vhost=%2F";

    [ThreadStatic]
    private static NatsHeaders? t_trail;

    private readonly NatsConnection _to;

    private FloorForwarder(NatsConnection from, NatsConnection to, string subject)
        : base(from, from.SubscriptionManager, subject, queueGroup: null, opts: null) => _to = to;

    /// <summary>Starts forwarding <paramref name="subject"/> (wildcards allowed) from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public static async Task<FloorForwarder> StartAsync(NatsConnection from, NatsConnection to, string subject, CancellationToken cancellationToken)
    {
        var forwarder = new FloorForwarder(from, to, subject);
        await from.AddSubAsync(forwarder, cancellationToken);
        await from.PingAsync(cancellationToken); // the SUB is on the server before the first measured message
        return forwarder;
    }

    /// <inheritdoc />
    protected override ValueTask ReceiveInternalAsync(string subject, string? replyTo, ReadOnlySequence<byte>? headersBuffer, ReadOnlySequence<byte> payloadBuffer)
    {
        // The read buffer is reused once this returns, and a publish that has to wait serialises later: copy the body,
        // as the link does. A pending publish holds the read loop, which pushes back to the server as the link does.
        if (!subject.EndsWith(".trail", StringComparison.Ordinal))
        {
            return _to.PublishAsync(subject, payloadBuffer.ToArray());
        }

        // One header object per thread, as the link's publisher keeps one: the client serialises it during the call.
        t_trail ??= new NatsHeaders { ["x-received-from"] = Trail };
        return _to.PublishAsync(subject, payloadBuffer.ToArray(), t_trail);
    }

    /// <inheritdoc />
    protected override void TryComplete()
    {
    }
}
