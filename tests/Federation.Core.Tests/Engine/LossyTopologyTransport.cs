using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Wraps a transport so that the downstream topology feed loses the changes <paramref name="lose"/> picks, as an event
/// stream with gaps would. Everything else passes through.
/// </summary>
internal sealed class LossyTopologyTransport(ITransport inner, Func<TopologyChange, bool> lose) : ITransport
{
    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
        new LossyConnection(await inner.ConnectAsync(request, cancellationToken), lose);

    private sealed class LossyConnection(IBrokerConnection inner, Func<TopologyChange, bool> lose) : IBrokerConnection, ITopologySource
    {
        public string? ClusterName => inner.ClusterName;

        public string VirtualHost => inner.VirtualHost;

        public string DisplayUri => inner.DisplayUri;

        public Task Completion => inner.Completion;

        public ITopologySource? Topology => inner.Topology is null ? null : this;

        public IDisposable Subscribe(Action<TopologyChange> onChange) =>
            inner.Topology!.Subscribe(change =>
            {
                if (!lose(change))
                {
                    onChange(change);
                }
            });

        public ValueTask<TopologySnapshot> GetSnapshotAsync(CancellationToken cancellationToken) => inner.Topology!.GetSnapshotAsync(cancellationToken);

        public ValueTask DeclareExchangeAsync(ExchangeSpec exchange, CancellationToken cancellationToken) => inner.DeclareExchangeAsync(exchange, cancellationToken);

        public ValueTask<bool> ExchangeExistsAsync(string name, CancellationToken cancellationToken) => inner.ExchangeExistsAsync(name, cancellationToken);

        public ValueTask DeleteExchangeAsync(string name, CancellationToken cancellationToken) => inner.DeleteExchangeAsync(name, cancellationToken);

        public ValueTask DeclareQueueAsync(QueueSpec queue, CancellationToken cancellationToken) => inner.DeclareQueueAsync(queue, cancellationToken);

        public ValueTask DeleteQueueAsync(string name, CancellationToken cancellationToken) => inner.DeleteQueueAsync(name, cancellationToken);

        public ValueTask BindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken) => inner.BindAsync(binding, noWait, cancellationToken);

        public ValueTask UnbindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken) => inner.UnbindAsync(binding, noWait, cancellationToken);

        public ValueTask<IMessagePublisher> OpenPublisherAsync(PublisherOptions options, CancellationToken cancellationToken) => inner.OpenPublisherAsync(options, cancellationToken);

        public ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken) =>
            inner.ConsumeAsync(queue, options, handler, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
