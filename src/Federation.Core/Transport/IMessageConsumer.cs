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

    /// <summary>
    /// Waits until this consumer has handed its handler (or settled, as not for it) everything its queue held when called,
    /// as far as the transport can tell. The engine calls it when a reload switches the kind of upstream queue
    /// (<see cref="ITransport.UpstreamQueueKind"/>): the new kind's queue is bound by then, so what the upstream publishes
    /// from then on reaches it, and what this consumer had not taken on yet would be lost with the old queue. Bounded by
    /// <paramref name="cancellationToken"/>. The default completes at once, for a transport that cannot tell.
    /// </summary>
    /// <param name="cancellationToken">Gives up waiting.</param>
    // A default method, so that transports written before it keep working: their switch stops the old run at once.
    ValueTask CatchUpAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>Acknowledges a delivery, or every delivery up to it with <paramref name="multiple"/>.</summary>
    ValueTask AckAsync(ulong deliveryTag, bool multiple, CancellationToken cancellationToken);

    /// <summary>Rejects a delivery, or every delivery up to it with <paramref name="multiple"/>; <paramref name="requeue"/> returns it to the queue.</summary>
    ValueTask NackAsync(ulong deliveryTag, bool multiple, bool requeue, CancellationToken cancellationToken);
}
