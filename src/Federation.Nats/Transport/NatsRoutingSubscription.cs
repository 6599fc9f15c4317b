using System.Buffers;
using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// A core NATS subscription that hands every message straight to the router on the client's read loop, through the
/// official client's extension point for custom subscriptions (<see cref="NatsSubBase"/>, as NATS.Client.JetStream does).
/// </summary>
/// <remarks>
/// A plain <c>SubscribeCoreAsync</c> would put each message into a per-subscription channel and need a reader task to
/// take it out again: one more buffer, one more lock and one more thread hop per message, which measurably cost
/// throughput. Routing only offers the message to an in-process queue; when that queue is full, the returned task waits,
/// which holds the read loop and pushes back through TCP to the server instead of dropping anything.
/// </remarks>
internal sealed class NatsRoutingSubscription : NatsSubBase
{
    private readonly NatsConnection _nats;
    private readonly Func<string, NatsHeaders?, byte[], ValueTask> _route;

    /// <param name="nats">The connection to subscribe on.</param>
    /// <param name="subject">The subject (may contain wildcards).</param>
    /// <param name="route">Takes each message: its subject, headers and body.</param>
    public NatsRoutingSubscription(NatsConnection nats, string subject, Func<string, NatsHeaders?, byte[], ValueTask> route)
        : base(nats, nats.SubscriptionManager, subject, queueGroup: null, opts: null)
    {
        _nats = nats;
        _route = route;
    }

    /// <inheritdoc />
    protected override ValueTask ReceiveInternalAsync(string subject, string? replyTo, ReadOnlySequence<byte>? headersBuffer, ReadOnlySequence<byte> payloadBuffer)
    {
        NatsHeaders? headers = null;
        if (headersBuffer is { } block)
        {
            headers = [];
            if (!_nats.HeaderParser.ParseHeaders(new SequenceReader<byte>(block), headers))
            {
                throw new NatsException("Error parsing headers");
            }
        }

        return _route(subject, headers, payloadBuffer.IsEmpty ? [] : payloadBuffer.ToArray());
    }

    /// <inheritdoc />
    protected override void TryComplete()
    {
        // nothing buffered here: the router owns every message it was given
    }
}
