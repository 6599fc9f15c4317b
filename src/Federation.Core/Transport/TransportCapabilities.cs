namespace Federation.Core.Transport;

/// <summary>
/// What a transport's connections can do beyond the common core of <see cref="IBrokerConnection"/>, as the transport
/// declares it in <see cref="ITransport.Capabilities"/>. An AMQP broker has all of them; core NATS has none. Where a flag is
/// missing, the connection shows the alternative behaviour documented on the flag (and checked by the contract suite), so
/// the engine and its users can tell in advance what a link between two transports keeps and what it loses.
/// </summary>
[Flags]
public enum TransportCapabilities
{
    /// <summary>None of the capabilities: the core that every transport offers.</summary>
    None = 0,

    /// <summary>
    /// Exchanges, queues and bindings are objects on the broker: every connection to the virtual host sees them, and they
    /// outlive the connection that declared them. A redeclaration is checked against every property of the existing object
    /// (its arguments too); binding from or publishing to a missing exchange fails with <see cref="ResourceNotFoundException"/>;
    /// an internal exchange refuses publishes; and the default exchange <c>""</c> routes to the queue named by the routing key.
    /// Exchange and queue names are at most 255 bytes of UTF-8 (an AMQP short string): declaring one with a longer name fails
    /// with <see cref="NameTooLongException"/>.
    /// </summary>
    /// <remarks>
    /// Without it, the connection emulates them and they exist on that connection only: an exchange is a subject namespace
    /// that needs no declaration (binding from an undeclared one declares it as a topic exchange, and publishing to one is
    /// accepted), a redeclaration is checked only against the type and the internal flag, queue arguments are ignored, a
    /// publish to an internal exchange is accepted but not routed by it, and there is no default exchange.
    /// </remarks>
    ServerSideTopology = 1,

    /// <summary>
    /// Deliveries stay unacknowledged until acked: the prefetch count bounds them, a nack with requeue, a cancelled consumer
    /// and a lost connection bring them back flagged <see cref="Delivery.Redelivered"/>, and acking an unknown delivery tag
    /// is an error.
    /// </summary>
    /// <remarks>
    /// Without it, delivery is at-most-once: acks and nacks are accepted and do nothing, the prefetch count does not hold
    /// deliveries back, and a message handed to a consumer is never delivered again, whatever happens to the consumer.
    /// </remarks>
    AtLeastOnce = 2,

    /// <summary>
    /// Durable queues and exchanges, and the persistent messages in durable queues, survive a restart of the broker; a
    /// redeclaration with a different <c>Durable</c> flag fails with <see cref="PreconditionFailedException"/>.
    /// </summary>
    /// <remarks>Without it, the <c>Durable</c> flag of a declaration is accepted and has no effect: a broker restart loses every queue and its messages.</remarks>
    Durable = 4,

    /// <summary>The <c>headers</c> exchange type: routing on message headers with <c>x-match</c> <c>all</c> or <c>any</c>.</summary>
    /// <remarks>Without it, declaring a headers exchange fails with <see cref="ExchangeTypeNotSupportedException"/>.</remarks>
    HeadersExchange = 8,

    /// <summary>Header values arrive with the type they were sent with: every value type listed in <see cref="MessageProperties"/>' remarks round-trips.</summary>
    /// <remarks>
    /// Without it, headers carry text: strings and the <c>x-received-from</c> trail round-trip (so hop and cycle rules hold),
    /// and any other value arrives as a string or not at all.
    /// </remarks>
    TypedHeaders = 16,

    /// <summary>A routing key may be any string, empty words included (<c>a..c</c>).</summary>
    /// <remarks>
    /// Without it, a routing key is a possibly empty sequence of non-empty words: publishing with an empty word fails with
    /// <see cref="ArgumentException"/>, naming the key.
    /// </remarks>
    ArbitraryRoutingKeys = 32,

    /// <summary>Every capability: what an AMQP 0-9-1 broker such as RabbitMQ offers, and the default of <see cref="ITransport.Capabilities"/>.</summary>
    All = ServerSideTopology | AtLeastOnce | Durable | HeadersExchange | TypedHeaders | ArbitraryRoutingKeys,
}
