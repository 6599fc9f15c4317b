using System.Collections.Concurrent;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Wraps a transport so that a test decides when, and in which order, the links' downstream publishes are confirmed or
/// nacked (the message itself is routed at once), and records every ack and nack the links send upstream, in order.
/// Engines use it for every connection, so every publisher and consumer opened through it is a link's.
/// </summary>
internal sealed class HeldConfirmsTransport(ITransport inner) : ITransport
{
    private readonly ConcurrentQueue<TaskCompletionSource> _held = new();
    private readonly ConcurrentQueue<Settlement> _settlements = new();

    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri);

    /// <summary>Publishes waiting for the test, in publish order (released ones included).</summary>
    public IReadOnlyList<TaskCompletionSource> Held => [.. _held];

    /// <summary>Every ack and nack sent upstream, in call order.</summary>
    public IReadOnlyList<Settlement> Settlements => [.. _settlements];

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
        new HoldingConnection(await inner.ConnectAsync(request, cancellationToken), this);

    /// <summary>One upstream ack or nack.</summary>
    internal sealed record Settlement(bool Ack, ulong DeliveryTag, bool Multiple);

    private sealed class HoldingConnection(IBrokerConnection inner, HeldConfirmsTransport transport) : DelegatingBrokerConnection(inner)
    {
        public override async ValueTask<IMessagePublisher> OpenPublisherAsync(PublisherOptions options, CancellationToken cancellationToken) =>
            new HoldingPublisher(await Inner.OpenPublisherAsync(options, cancellationToken), transport);

        public override async ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken) =>
            new RecordingConsumer(await Inner.ConsumeAsync(queue, options, handler, cancellationToken), transport);
    }

    private sealed class HoldingPublisher(IMessagePublisher inner, HeldConfirmsTransport transport) : IMessagePublisher
    {
        public async ValueTask PublishAsync(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
        {
            // The instances' heartbeats are not the link's messages: they pass, unheld and uncounted.
            if (exchange.StartsWith(Federation.Core.Model.FederationDefinitions.PresenceExchangePrefix, StringComparison.Ordinal))
            {
                await inner.PublishAsync(exchange, routingKey, properties, body, cancellationToken);
                return;
            }

            var confirm = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            transport._held.Enqueue(confirm);
            await inner.PublishAsync(exchange, routingKey, properties, body, cancellationToken);
            await confirm.Task;
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    private sealed class RecordingConsumer(IMessageConsumer inner, HeldConfirmsTransport transport) : IMessageConsumer
    {
        public Task Completion => inner.Completion;

        public bool CanRequeue => inner.CanRequeue;

        public bool EnforcesPrefetch => inner.EnforcesPrefetch;

        public ValueTask AckAsync(ulong deliveryTag, bool multiple, CancellationToken cancellationToken)
        {
            transport._settlements.Enqueue(new Settlement(true, deliveryTag, multiple));
            return inner.AckAsync(deliveryTag, multiple, cancellationToken);
        }

        public ValueTask NackAsync(ulong deliveryTag, bool multiple, bool requeue, CancellationToken cancellationToken)
        {
            transport._settlements.Enqueue(new Settlement(false, deliveryTag, multiple));
            return inner.NackAsync(deliveryTag, multiple, requeue, cancellationToken);
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
