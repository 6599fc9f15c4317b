using System.Buffers;
using NATS.Client.Core;

namespace Federation.Nats.Messaging;

/// <summary>
/// The client-side half of a <see cref="NatsSubjectSubscription"/>: a custom subscription registered with
/// <see cref="NatsConnection.AddSubAsync"/> (the official client's extension point, as NATS.Client.JetStream uses it), so
/// that each message reaches the subscription on the client's read loop, without the client's per-subscription channel,
/// the thread hop out of it, or the <see cref="NatsHeaders"/> dictionary built per message.
/// </summary>
internal sealed class NatsSubjectReceiver : NatsSubBase
{
    private readonly NatsSubjectSubscription _subscription;

    public NatsSubjectReceiver(NatsConnection nats, string subject, string? queueGroup, NatsSubjectSubscription subscription)
        : base(nats, nats.SubscriptionManager, subject, queueGroup, opts: null)
    {
        _subscription = subscription;
    }

    /// <inheritdoc />
    protected override ValueTask ReceiveInternalAsync(string subject, string? replyTo, ReadOnlySequence<byte>? headersBuffer, ReadOnlySequence<byte> payloadBuffer) =>
        _subscription.Receive(subject, replyTo, headersBuffer, payloadBuffer);

    /// <inheritdoc />
    protected override void TryComplete()
    {
        // nothing buffered here: the subscription owns every message it was given
    }
}
