namespace Federation.Core.Diagnostics;

/// <summary>
/// The OpenTelemetry messaging semantic-convention names the forward spans use (semconv 1.27 and later: an operation
/// <c>type</c> of <c>send</c> or <c>process</c>, a span named <c>{messaging.operation.name} {destination}</c>).
/// </summary>
internal static class MessagingAttributes
{
    public const string System = "messaging.system";
    public const string OperationType = "messaging.operation.type";
    public const string OperationName = "messaging.operation.name";
    public const string DestinationName = "messaging.destination.name";
    public const string MessageId = "messaging.message.id";
    public const string ConversationId = "messaging.message.conversation_id";
    public const string RabbitMqRoutingKey = "messaging.rabbitmq.destination.routing_key";

    public const string RabbitMqSystem = "rabbitmq";
    public const string NatsSystem = "nats";

    public const string ProcessOperation = "process";
    public const string SendOperationType = "send";
    public const string PublishOperationName = "publish";

    /// <summary>The link's own attributes, the same names as the link's metric tags.</summary>
    public const string FederationExchange = "federation.exchange";
    public const string FederationUpstream = "federation.upstream";

    /// <summary>
    /// The <c>messaging.system</c> of a broker, from the scheme of its URI: the semantic conventions' <c>rabbitmq</c> for
    /// AMQP 0-9-1, <c>nats</c> for NATS, and the scheme itself for anything else (the in-memory transport's <c>memory</c>).
    /// </summary>
    public static string SystemOf(string uri)
    {
        var colon = uri.IndexOf(':', StringComparison.Ordinal);
        var scheme = colon <= 0 ? uri : uri[..colon];
        if (scheme.StartsWith("amqp", StringComparison.OrdinalIgnoreCase))
        {
            return RabbitMqSystem;
        }

        return scheme.StartsWith("nats", StringComparison.OrdinalIgnoreCase) ? NatsSystem : scheme.ToLowerInvariant();
    }
}
