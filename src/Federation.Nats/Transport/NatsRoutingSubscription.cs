using System.Buffers;
using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// A core NATS subscription that hands every message straight to the router on the client's read loop, through the
/// official client's extension point for custom subscriptions (<see cref="NatsSubBase"/>, as NATS.Client.JetStream does).
/// </summary>
/// <remarks>
/// <para>
/// A plain <c>SubscribeCoreAsync</c> would put each message into a per-subscription channel and need a reader task to
/// take it out again: one more buffer, one more lock and one more thread hop per message, which measurably cost
/// throughput. Routing only offers the message to an in-process queue; when that queue is full, the returned task waits,
/// which holds the read loop and pushes back through TCP to the server instead of dropping anything.
/// </para>
/// <para>
/// Anyone may publish a header block the client cannot parse (no colon, a bad status line, bare LF line ends). The
/// client ends a subscription whose receive throws, and nothing would tell the link, which would go on looking healthy
/// while it received nothing more. So an unreadable message is handed to <c>unreadable</c> (which counts it) and the
/// subscription goes on; and should the client end the subscription for any other reason, <c>ended</c> is told, so that
/// the connection fails and the link restarts instead of idling.
/// </para>
/// </remarks>
internal sealed class NatsRoutingSubscription : NatsSubBase
{
    private readonly NatsConnection _nats;
    private readonly Func<string, NatsHeaders?, byte[], ValueTask> _route;
    private readonly Action<string, Exception> _unreadable;
    private readonly Action<NatsRoutingSubscription> _ended;
    private int _closing;

    /// <param name="nats">The connection to subscribe on.</param>
    /// <param name="subject">The subject (may contain wildcards).</param>
    /// <param name="route">Takes each message: its subject, headers and body.</param>
    /// <param name="unreadable">Takes the subject of a message whose header block cannot be parsed, and why.</param>
    /// <param name="ended">Told when the client ends this subscription without <see cref="DisposeAsync"/>.</param>
    public NatsRoutingSubscription(
        NatsConnection nats,
        string subject,
        Func<string, NatsHeaders?, byte[], ValueTask> route,
        Action<string, Exception> unreadable,
        Action<NatsRoutingSubscription> ended)
        : base(nats, nats.SubscriptionManager, subject, queueGroup: null, opts: null)
    {
        _nats = nats;
        _route = route;
        _unreadable = unreadable;
        _ended = ended;
    }

    /// <summary>Unsubscribes on purpose: the end that follows is not reported.</summary>
    public override ValueTask DisposeAsync()
    {
        Volatile.Write(ref _closing, 1);
        return base.DisposeAsync();
    }

    /// <inheritdoc />
    protected override ValueTask ReceiveInternalAsync(string subject, string? replyTo, ReadOnlySequence<byte>? headersBuffer, ReadOnlySequence<byte> payloadBuffer)
    {
        NatsHeaders? headers = null;
        if (headersBuffer is { } block)
        {
            headers = [];
            try
            {
                if (!_nats.HeaderParser.ParseHeaders(new SequenceReader<byte>(block), headers))
                {
                    throw new NatsException("Protocol error: empty header block");
                }
            }
#pragma warning disable CA1031 // whatever the parser throws (NatsException, a decoder's ArgumentException): a throw here ends the subscription
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _unreadable(subject, ex);
                return ValueTask.CompletedTask;
            }
        }

        return _route(subject, headers, payloadBuffer.IsEmpty ? [] : payloadBuffer.ToArray());
    }

    /// <inheritdoc />
    protected override void TryComplete()
    {
        // Nothing buffered here: the router owns every message it was given. The client calls this when the subscription
        // ends, however it ends; an end nobody asked for is reported. (The base class may call this from its constructor,
        // before the fields are set.)
        if (Volatile.Read(ref _closing) == 0)
        {
            _ended?.Invoke(this);
        }
    }
}
