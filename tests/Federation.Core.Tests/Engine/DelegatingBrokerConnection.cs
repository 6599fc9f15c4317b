using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>Passes every call to an inner connection; test transports override what they observe or alter.</summary>
internal abstract class DelegatingBrokerConnection(IBrokerConnection inner) : IBrokerConnection
{
    protected IBrokerConnection Inner { get; } = inner;

    public virtual string? ClusterName => Inner.ClusterName;

    public string VirtualHost => Inner.VirtualHost;

    public string DisplayUri => Inner.DisplayUri;

    public Task Completion => Inner.Completion;

    public virtual ITopologySource? Topology => Inner.Topology;

    public virtual IBrokerLeases? Leases => Inner.Leases;

    public virtual ValueTask DeclareExchangeAsync(ExchangeSpec exchange, CancellationToken cancellationToken) => Inner.DeclareExchangeAsync(exchange, cancellationToken);

    public virtual ValueTask<bool> ExchangeExistsAsync(string name, CancellationToken cancellationToken) => Inner.ExchangeExistsAsync(name, cancellationToken);
    public virtual ValueTask<bool> ProbeExchangeAsync(string name, CancellationToken cancellationToken) => Inner.ProbeExchangeAsync(name, cancellationToken);
    public virtual ValueTask<bool> ProbeQueueAsync(string name, CancellationToken cancellationToken) => Inner.ProbeQueueAsync(name, cancellationToken);

    public virtual ValueTask DeleteExchangeAsync(string name, CancellationToken cancellationToken) => Inner.DeleteExchangeAsync(name, cancellationToken);

    public virtual ValueTask DeclareQueueAsync(QueueSpec queue, CancellationToken cancellationToken) => Inner.DeclareQueueAsync(queue, cancellationToken);

    public virtual ValueTask DeleteQueueAsync(string name, CancellationToken cancellationToken) => Inner.DeleteQueueAsync(name, cancellationToken);

    public virtual ValueTask<long?> DeleteQueueCountingDiscardedAsync(string name, CancellationToken cancellationToken) => Inner.DeleteQueueCountingDiscardedAsync(name, cancellationToken);

    public virtual ValueTask<long?> CountQueueMessagesAsync(string name, CancellationToken cancellationToken) => Inner.CountQueueMessagesAsync(name, cancellationToken);

    public virtual ValueTask<long?> CountQueueConsumersAsync(string name, CancellationToken cancellationToken) => Inner.CountQueueConsumersAsync(name, cancellationToken);

    public virtual ValueTask<bool> HasTakenOverAsync(string queue, string retired, CancellationToken cancellationToken) => Inner.HasTakenOverAsync(queue, retired, cancellationToken);

    public virtual ValueTask BindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken) => Inner.BindAsync(binding, noWait, cancellationToken);

    public virtual ValueTask UnbindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken) => Inner.UnbindAsync(binding, noWait, cancellationToken);

    public virtual ValueTask<IMessagePublisher> OpenPublisherAsync(PublisherOptions options, CancellationToken cancellationToken) => Inner.OpenPublisherAsync(options, cancellationToken);

    public virtual ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken) =>
        Inner.ConsumeAsync(queue, options, handler, cancellationToken);

    public virtual ValueTask DisposeAsync() => Inner.DisposeAsync();
}
