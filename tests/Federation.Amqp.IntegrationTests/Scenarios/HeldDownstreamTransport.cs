using System.Collections.Concurrent;
using Federation.Core.Transport;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// Wraps a transport so that a link's publishes to one exchange (straight, or with duplicate suppression through its
/// ledger) wait before they reach the broker, as on a downstream that takes nothing for now: the link's deliveries from its upstream stay unacknowledged, up to its prefetch count. Nothing
/// held is ever published: <see cref="FailHeld"/> ends the waits with an error, so that what the downstream received is
/// exactly what passed before the hold. And it runs <see cref="BeforeQueueDeletion"/> right before a queue deletion goes
/// to the broker: whatever the test publishes there reaches the queue between anything the engine did before and the
/// deletion itself.
/// </summary>
internal sealed class HeldDownstreamTransport(ITransport inner, string heldExchange) : ITransport
{
    private readonly TaskCompletionSource failed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int waiting;

    /// <summary>The exchange whose publishes are held.</summary>
    public string HeldExchange { get; } = heldExchange;

    /// <summary>Runs, with the queue's name, before each queue deletion goes to the broker; null for nothing.</summary>
    public Func<string, Task>? BeforeQueueDeletion { get; set; }

    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    public TransportCapabilities Capabilities => inner.Capabilities;

    /// <summary>How many publishes wait now.</summary>
    public int Waiting => Volatile.Read(ref waiting);

    public IReadOnlyList<string> ValidateUri(string uri) => inner.ValidateUri(uri);

    public IReadOnlyList<UpstreamSettingProblem> ValidateUpstream(string uri, UpstreamSettings settings) => inner.ValidateUpstream(uri, settings);

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
        new Connection(await inner.ConnectAsync(request, cancellationToken), this);

    /// <summary>Ends every wait, now and later, with a lost connection: nothing held reaches the broker.</summary>
    public void FailHeld() => failed.TrySetException(new ConnectionLostException("the test ended the held publishes"));

    private async ValueTask HoldAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref waiting);
        try
        {
            await failed.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref waiting);
        }
    }

    private sealed class Connection(IBrokerConnection inner, HeldDownstreamTransport transport) : IBrokerConnection
    {
        public string? ClusterName => inner.ClusterName;

        public string VirtualHost => inner.VirtualHost;

        public string DisplayUri => inner.DisplayUri;

        public Task Completion => inner.Completion;

        public ITopologySource? Topology => inner.Topology;

        public IBrokerLeases? Leases => inner.Leases;

        public ValueTask DeclareExchangeAsync(ExchangeSpec exchange, CancellationToken cancellationToken) => inner.DeclareExchangeAsync(exchange, cancellationToken);

        public ValueTask<bool> ExchangeExistsAsync(string name, CancellationToken cancellationToken) => inner.ExchangeExistsAsync(name, cancellationToken);
        public ValueTask<bool> ProbeExchangeAsync(string name, CancellationToken cancellationToken) => inner.ProbeExchangeAsync(name, cancellationToken);
        public ValueTask<bool> ProbeQueueAsync(string name, CancellationToken cancellationToken) => inner.ProbeQueueAsync(name, cancellationToken);

        public ValueTask DeleteExchangeAsync(string name, CancellationToken cancellationToken) => inner.DeleteExchangeAsync(name, cancellationToken);

        public ValueTask DeclareQueueAsync(QueueSpec queue, CancellationToken cancellationToken) => inner.DeclareQueueAsync(queue, cancellationToken);

        public async ValueTask DeleteQueueAsync(string name, CancellationToken cancellationToken)
        {
            await (transport.BeforeQueueDeletion?.Invoke(name) ?? Task.CompletedTask);
            await inner.DeleteQueueAsync(name, cancellationToken);
        }

        public async ValueTask<long?> DeleteQueueCountingDiscardedAsync(string name, CancellationToken cancellationToken)
        {
            await (transport.BeforeQueueDeletion?.Invoke(name) ?? Task.CompletedTask);
            return await inner.DeleteQueueCountingDiscardedAsync(name, cancellationToken);
        }

        public ValueTask<long?> CountQueueMessagesAsync(string name, CancellationToken cancellationToken) => inner.CountQueueMessagesAsync(name, cancellationToken);

        public ValueTask<long?> CountQueueConsumersAsync(string name, CancellationToken cancellationToken) => inner.CountQueueConsumersAsync(name, cancellationToken);

        public ValueTask BindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken) => inner.BindAsync(binding, noWait, cancellationToken);

        public ValueTask UnbindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken) => inner.UnbindAsync(binding, noWait, cancellationToken);

        public async ValueTask<IMessagePublisher> OpenPublisherAsync(PublisherOptions options, CancellationToken cancellationToken) =>
            new Publisher(await inner.OpenPublisherAsync(options, cancellationToken), transport);

        public ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken) =>
            inner.ConsumeAsync(queue, options, handler, cancellationToken);

        public async ValueTask<IDeliveryLedger?> OpenLedgerAsync(LedgerOptions options, CancellationToken cancellationToken) =>
            await inner.OpenLedgerAsync(options, cancellationToken) is { } ledger ? new Ledger(ledger, transport) : null;

        public ValueTask DeleteLedgerAsync(string name, CancellationToken cancellationToken) => inner.DeleteLedgerAsync(name, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    private sealed class Publisher(IMessagePublisher inner, HeldDownstreamTransport transport) : IMessagePublisher
    {
        public async ValueTask PublishAsync(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
        {
            if (exchange == transport.HeldExchange)
            {
                await transport.HoldAsync(cancellationToken);
            }

            await inner.PublishAsync(exchange, routingKey, properties, body, cancellationToken);
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    private sealed class Ledger(IDeliveryLedger inner, HeldDownstreamTransport transport) : IDeliveryLedger
    {
        public ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> ReadAsync(CancellationToken cancellationToken) => inner.ReadAsync(cancellationToken);

        public ValueTask CompactAsync(IReadOnlyList<ReadOnlyMemory<byte>> snapshot, CancellationToken cancellationToken) => inner.CompactAsync(snapshot, cancellationToken);

        public async ValueTask PublishAndRecordAsync(IReadOnlyList<LedgerMessage> messages, ReadOnlyMemory<byte> record, CancellationToken cancellationToken)
        {
            if (messages.Any(m => m.Exchange == transport.HeldExchange))
            {
                await transport.HoldAsync(cancellationToken);
            }

            await inner.PublishAndRecordAsync(messages, record, cancellationToken);
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
