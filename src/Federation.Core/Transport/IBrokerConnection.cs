namespace Federation.Core.Transport;

/// <summary>
/// One logical connection to one virtual host of a broker: topology, publishing and consuming.
/// This is the only surface the federation engine talks to; adapters implement it over their client library.
/// </summary>
/// <remarks>
/// Implementations are thread-safe. When the underlying connection is lost, <see cref="Completion"/> completes and every
/// later call fails with <see cref="ConnectionLostException"/>; the engine reconnects by opening a new connection.
/// Adapters never reconnect behind the engine's back, so that the engine can redeclare and resynchronise.
/// </remarks>
public interface IBrokerConnection : IAsyncDisposable
{
    /// <summary>The cluster name the broker advertises (AMQP server property <c>cluster_name</c>), if any.</summary>
    string? ClusterName { get; }

    /// <summary>The virtual host this connection is scoped to.</summary>
    string VirtualHost { get; }

    /// <summary>The broker URI without credentials, as recorded in <c>x-received-from</c> and status.</summary>
    string DisplayUri { get; }

    /// <summary>Completes when the connection closes: successfully after <see cref="IAsyncDisposable.DisposeAsync"/>, faulted when it was lost.</summary>
    Task Completion { get; }

    /// <summary>Observes exchanges and bindings made by any client on this virtual host, or <see langword="null"/> when the transport cannot.</summary>
    ITopologySource? Topology { get; }

    /// <summary>
    /// Leases the broker arbitrates between connections (see <see cref="IBrokerLeases"/>), held by this connection; or
    /// <see langword="null"/> (the default) when the broker cannot arbitrate them. The engine takes one per link on the
    /// downstream connection before the link touches its upstream, so that two engines never run the same link.
    /// </summary>
    IBrokerLeases? Leases => null;

    /// <summary>Declares an exchange. Redeclaring with the same properties is a no-op.</summary>
    /// <exception cref="ExchangeTypeNotSupportedException">The broker does not know <see cref="ExchangeSpec.Type"/>.</exception>
    /// <exception cref="PreconditionFailedException">The exchange exists with different properties.</exception>
    ValueTask DeclareExchangeAsync(ExchangeSpec exchange, CancellationToken cancellationToken);

    /// <summary>Checks whether an exchange exists (a passive declare).</summary>
    ValueTask<bool> ExchangeExistsAsync(string name, CancellationToken cancellationToken);

    /// <summary>
    /// Checks whether an exchange exists, for a question whose answer is often no: at every link start, which of the
    /// link's two internal exchange generations is there. <see cref="ExchangeExistsAsync"/> serves the checks whose answer
    /// is almost always yes (the periodic ones). A transport answers this one without a failure on the broker's side where
    /// a passive declare of something missing is one: RabbitMQ closes the channel and logs a channel error
    /// (<c>not_found</c>) for it, which a link start of the federation plugin never causes. The default asks
    /// <see cref="ExchangeExistsAsync"/>.
    /// </summary>
    /// <param name="name">The exchange's name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Whether the exchange exists.</returns>
    // A default method: a transport (or decorator) written before it answers as before.
    ValueTask<bool> ProbeExchangeAsync(string name, CancellationToken cancellationToken) => ExchangeExistsAsync(name, cancellationToken);

    /// <summary>
    /// Checks whether a queue exists, for a question whose answer is often no (at every link start: whether a handover
    /// queue waits to be forwarded), without a failure on the broker's side where the transport can, as
    /// <see cref="ProbeExchangeAsync"/> does. The default asks <see cref="CountQueueMessagesAsync"/>, so a transport that
    /// cannot count answers false.
    /// </summary>
    /// <param name="name">The queue's name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Whether the queue exists.</returns>
    async ValueTask<bool> ProbeQueueAsync(string name, CancellationToken cancellationToken) =>
        await CountQueueMessagesAsync(name, cancellationToken).ConfigureAwait(false) is not null;

    /// <summary>Deletes an exchange and its bindings. Deleting a missing exchange is a no-op.</summary>
    ValueTask DeleteExchangeAsync(string name, CancellationToken cancellationToken);

    /// <summary>Declares a queue. Redeclaring with the same properties is a no-op.</summary>
    ValueTask DeclareQueueAsync(QueueSpec queue, CancellationToken cancellationToken);

    /// <summary>Deletes a queue and the messages in it. Deleting a missing queue is a no-op.</summary>
    ValueTask DeleteQueueAsync(string name, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes a queue and the messages in it, as <see cref="DeleteQueueAsync"/> does, and returns how many messages the
    /// deletion discarded as the broker reports it (AMQP: the message count of <c>queue.delete-ok</c>): what the queue held
    /// at that moment, deliveries that closed consumers gave back included; 0 for a missing queue. <see langword="null"/>
    /// when the transport cannot tell (the default). The engine deletes a link's upstream queue with this, so that the
    /// warning it logs (event 1028) says how many messages that discarded.
    /// </summary>
    /// <remarks>
    /// A count read before the deletion (<see cref="CountQueueMessagesAsync"/>) misses whatever reaches the queue between
    /// the two calls: what an exchange still routes to it, and the deliveries a consumer that closes meanwhile gives back.
    /// Only the deletion's own answer is the number discarded.
    /// </remarks>
    /// <param name="name">The queue's name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    // A default method, so that transports (and decorators of connections) written before it keep compiling and working:
    // they delete as before and report an unknown number, never a wrong one. A decorator must pass it on to report the
    // inner connection's count.
    async ValueTask<long?> DeleteQueueCountingDiscardedAsync(string name, CancellationToken cancellationToken)
    {
        await DeleteQueueAsync(name, cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>
    /// Deletes the upstream queue <paramref name="name"/> of a link that reads the exchange <paramref name="source"/>, as
    /// <see cref="DeleteQueueCountingDiscardedAsync"/> does, also on a connection that has not declared it: the engine
    /// deletes a link's queue so between its runs, and a retired link's queue on a connection of its old definition. A
    /// transport that can keep queues of one name in several places on a broker, according to the URI and the exchange
    /// they read (NATS JetStream: a durable consumer on the stream that the URI's <c>stream=</c> names, or else on the
    /// stream of <paramref name="source"/>), deletes only the one that this connection's URI and <paramref name="source"/>
    /// place it in, never the queue of that name that the link's current run reads elsewhere (after a reload that changed
    /// the stream). The default ignores <paramref name="source"/>.
    /// </summary>
    /// <param name="name">The queue's name.</param>
    /// <param name="source">The upstream exchange the link reads, which its queue is bound to.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>What the deletion discarded, as for <see cref="DeleteQueueCountingDiscardedAsync"/>.</returns>
    // A default method, as for DeleteQueueCountingDiscardedAsync: a transport (or decorator) written before it deletes by
    // name, as before.
    ValueTask<long?> DeleteUpstreamQueueAsync(string name, string source, CancellationToken cancellationToken) =>
        DeleteQueueCountingDiscardedAsync(name, cancellationToken);

    /// <summary>
    /// How many messages the queue holds ready for delivery now, or <see langword="null"/> when the transport cannot tell
    /// (the default) or the queue does not exist. A snapshot: for how many messages a deletion discards, see
    /// <see cref="DeleteQueueCountingDiscardedAsync"/>.
    /// </summary>
    ValueTask<long?> CountQueueMessagesAsync(string name, CancellationToken cancellationToken) => ValueTask.FromResult<long?>(null);

    /// <summary>
    /// How many consumers the queue has now (AMQP: the consumer count of a passive declare), or <see langword="null"/>
    /// when the transport cannot tell (the default) or the queue does not exist. A consumer holds the deliveries it has not
    /// acknowledged yet, which no <see cref="CountQueueMessagesAsync"/> counts: a queue whose consumers are all gone holds
    /// everything it has not handed out for good as ready messages (AMQP: a quorum queue gives a closed channel's
    /// deliveries back as it removes its consumer, after the channel's close has been answered).
    /// </summary>
    /// <param name="name">The queue's name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<long?> CountQueueConsumersAsync(string name, CancellationToken cancellationToken) => ValueTask.FromResult<long?>(null);

    /// <summary>
    /// Whether <paramref name="queue"/>, declared with <see cref="QueueSpec.TakesOver"/> naming <paramref name="retired"/>,
    /// was created where <paramref name="retired"/> stopped, on the same log (NATS JetStream: on the same stream, at the
    /// retired durable consumer's acknowledgement floor), so that it delivers everything <paramref name="retired"/> had not
    /// delivered for good: <paramref name="retired"/> can then be deleted without discarding anything the link would not
    /// forward. <see langword="false"/> (the default) when the transport cannot take a queue over, or did not: the queue
    /// existed already, or <paramref name="retired"/> was missing or read another log.
    /// </summary>
    /// <remarks>
    /// The engine asks on another connection to the same broker than the one that declared <paramref name="queue"/> (the
    /// forwarding of the retired queue opens its own), so a transport answers for the connections it opened, not only this one.
    /// </remarks>
    /// <param name="queue">The queue that took the other's place.</param>
    /// <param name="retired">The queue whose place it took.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    // A default method, as for DeleteQueueCountingDiscardedAsync: transports written before it keep working, and their
    // retired queues are forwarded or discarded as before.
    ValueTask<bool> HasTakenOverAsync(string queue, string retired, CancellationToken cancellationToken) => ValueTask.FromResult(false);

    /// <summary>Adds a binding. Adding an existing binding is a no-op.</summary>
    /// <param name="binding">The binding.</param>
    /// <param name="noWait">Do not wait for the broker's reply (AMQP <c>nowait</c>); errors then surface as a lost connection.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ResourceNotFoundException">The source or destination does not exist.</exception>
    ValueTask BindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken);

    /// <summary>Removes a binding. Removing a missing binding is a no-op.</summary>
    ValueTask UnbindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken);

    /// <summary>Opens a publisher. With confirms, each publish completes only when the broker has taken responsibility for the message.</summary>
    ValueTask<IMessagePublisher> OpenPublisherAsync(PublisherOptions options, CancellationToken cancellationToken);

    /// <summary>Starts consuming a queue. Deliveries reach <paramref name="handler"/> one at a time, in queue order.</summary>
    /// <exception cref="ResourceNotFoundException">The queue does not exist.</exception>
    ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken);

    /// <summary>
    /// Opens (declaring when needed) a durable delivery ledger on this broker, used by links for duplicate suppression.
    /// Returns <see langword="null"/> when the transport cannot keep one (the default): such links forward without it.
    /// </summary>
    /// <param name="options">The ledger's name and size bound.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<IDeliveryLedger?> OpenLedgerAsync(LedgerOptions options, CancellationToken cancellationToken) => ValueTask.FromResult<IDeliveryLedger?>(null);

    /// <summary>
    /// Deletes the ledger named <paramref name="name"/> (as opened with <see cref="OpenLedgerAsync"/>) with its records, once
    /// the link it served is gone for good; nothing when there is none. The default, for a connection that keeps no ledgers,
    /// does nothing.
    /// </summary>
    /// <param name="name">The ledger's name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask DeleteLedgerAsync(string name, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>Receives one delivery. The consumer does not deliver the next message until the returned task completes.</summary>
/// <param name="delivery">The delivery.</param>
/// <param name="cancellationToken">Signalled when the consumer is being cancelled.</param>
public delegate ValueTask DeliveryHandler(Delivery delivery, CancellationToken cancellationToken);

/// <summary>Options for <see cref="IBrokerConnection.OpenPublisherAsync"/>.</summary>
/// <param name="Confirms">Use publisher confirms: each publish completes when the broker confirms it and fails if it nacks.</param>
/// <param name="MaxOutstandingConfirms">Upper bound of unconfirmed publishes; further publishes wait for room.</param>
public sealed record PublisherOptions(bool Confirms, int MaxOutstandingConfirms = 1000)
{
    /// <summary>
    /// Where the transport reports messages of this publisher that the broker dropped after taking them, which no publish
    /// call can report (NATS: the server refuses a subject the user may not publish to with an error of its own, and drops
    /// the message); null when nobody listens.
    /// </summary>
    public MessageDropHandler? Dropped { get; init; }

    /// <summary>
    /// The one exchange this publisher publishes to, when it has one (a link's: its downstream exchange); null when it
    /// publishes anywhere. A transport may check at open that a publish there can be confirmed, so that what is missing is
    /// an error at the link's start rather than at its first message (a JetStream downstream: the stream that captures the
    /// exchange, created when it is the link's own, reported by name when it is a named stream that does not exist).
    /// </summary>
    public string? Exchange { get; init; }
}

/// <summary>Options for <see cref="IBrokerConnection.ConsumeAsync"/>.</summary>
/// <param name="Prefetch">Maximum unacknowledged deliveries in flight; 0 means unlimited. Ignored with <paramref name="AutoAck"/>.</param>
/// <param name="AutoAck">The broker considers a message acknowledged as soon as it is delivered (AMQP no-ack).</param>
public sealed record ConsumerOptions(int Prefetch, bool AutoAck = false)
{
    /// <summary>
    /// Where the transport reports messages it dropped before delivering them to this consumer; null when nobody listens.
    /// A transport that can lose messages in the client (at-most-once transports) must report every such loss here.
    /// </summary>
    public MessageDropHandler? Dropped { get; init; }
}
