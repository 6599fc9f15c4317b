using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Upstream consumers as core NATS gives them: no prefetch, and nothing can be given back. Counts the deliveries handed
/// to the links, and passes a ledger through when the inner transport has one.
/// </summary>
internal sealed class NoPrefetchTransport(ITransport inner) : ITransport
{
    private int _delivered;

    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    /// <summary>Deliveries of federated messages handed to the links' handlers so far (heartbeats left out).</summary>
    public int Delivered => Volatile.Read(ref _delivered);

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
        new Connection(await inner.ConnectAsync(request, cancellationToken), this);

    // Declares the interface again, so that its OpenLedgerAsync passes the inner connection's ledger on.
    private sealed class Connection(IBrokerConnection inner, NoPrefetchTransport transport) : DelegatingBrokerConnection(inner), IBrokerConnection
    {
        public override async ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken) =>
            new Consumer(await Inner.ConsumeAsync(queue, options with { Prefetch = 0 }, (delivery, token) =>
            {
                // The instances' heartbeats are not the link's messages: not counted.
                if (!delivery.Exchange.StartsWith(Federation.Core.Model.FederationDefinitions.PresenceExchangePrefix, StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref transport._delivered);
                }

                return handler(delivery, token);
            }, cancellationToken));

        public ValueTask<IDeliveryLedger?> OpenLedgerAsync(LedgerOptions options, CancellationToken cancellationToken) => Inner.OpenLedgerAsync(options, cancellationToken);
    }

    // Says nothing about EnforcesPrefetch: its default follows CanRequeue, as for an implementation older than it.
    private sealed class Consumer(IMessageConsumer inner) : IMessageConsumer
    {
        public Task Completion => inner.Completion;

        public bool CanRequeue => false;

        public ValueTask AckAsync(ulong deliveryTag, bool multiple, CancellationToken cancellationToken) => inner.AckAsync(deliveryTag, multiple, cancellationToken);

        public ValueTask NackAsync(ulong deliveryTag, bool multiple, bool requeue, CancellationToken cancellationToken) =>
            inner.NackAsync(deliveryTag, multiple, requeue, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
