namespace Federation.Core.Transport;

/// <summary>An active consumer on a queue.</summary>
public interface IMessageConsumer : IAsyncDisposable
{
    /// <summary>Completes when the consumer stops: successfully after disposal, faulted when the broker cancelled it (for example because the queue was deleted) or the connection was lost.</summary>
    Task Completion { get; }

    /// <summary>
    /// Whether <see cref="NackAsync"/> with requeue gives a message back to its queue. False for at-most-once transports
    /// (core NATS): a message nacked there is gone, so the engine counts it as dropped instead of relying on a redelivery.
    /// </summary>
    bool CanRequeue => true;

    /// <summary>
    /// Whether the consumer itself stops handing out deliveries while <see cref="ConsumerOptions.Prefetch"/> of them are
    /// unacknowledged. When it does not (core NATS, whose acks do nothing), the engine holds the consumer once a
    /// prefetch's worth of forwards wait for the downstream, as in no-ack mode, so a slow downstream pushes back instead
    /// of piling them up in memory. Defaults to <see cref="CanRequeue"/>: an upstream that cannot take a message back has
    /// no acks that could hold deliveries back.
    /// </summary>
    bool EnforcesPrefetch => CanRequeue;

    /// <summary>Acknowledges a delivery, or every delivery up to it with <paramref name="multiple"/>.</summary>
    ValueTask AckAsync(ulong deliveryTag, bool multiple, CancellationToken cancellationToken);

    /// <summary>Rejects a delivery, or every delivery up to it with <paramref name="multiple"/>; <paramref name="requeue"/> returns it to the queue.</summary>
    ValueTask NackAsync(ulong deliveryTag, bool multiple, bool requeue, CancellationToken cancellationToken);
}
