namespace Federation.Core.Collectives;

/// <summary>The values of the <c>error.type</c> tag on <c>federation.broker.errors</c>.</summary>
public static class BrokerErrorTypes
{
    /// <summary>The envelope is missing, incomplete or malformed.</summary>
    public const string Malformed = "malformed";

    /// <summary>The message already passed <see cref="FederationBrokerOptions.MaxHops"/> brokers.</summary>
    public const string HopLimit = "hop_limit";

    /// <summary>A request target is not an allowed subject (escape attempt or typo); the whole request is dropped.</summary>
    public const string TargetRejected = "target_rejected";

    /// <summary>A request lists more targets than <see cref="FederationBrokerOptions.MaxTargets"/>; the whole request is dropped.</summary>
    public const string TooManyTargets = "too_many_targets";

    /// <summary>The client reply subject is not an allowed subject.</summary>
    public const string ReplyRejected = "reply_rejected";

    /// <summary>Publishing failed (connection lost); the message is lost, as in Choria.</summary>
    public const string PublishFailed = "publish_failed";

    /// <summary>
    /// The outgoing transport refused the message before sending it, as one it can never carry (for example a subject over
    /// AMQP's 255-byte routing-key limit), or its server refused that one message (a body over the NATS server's
    /// <c>max_payload</c>); that one message is dropped and the connection is unaffected.
    /// </summary>
    public const string Unsendable = "unsendable";

    /// <summary>
    /// The incoming transport received a message it could not read (for example an AMQP header RabbitMQ.Client cannot
    /// parse, or a malformed NATS header block) and dropped it before the broker saw it; the connection is unaffected.
    /// </summary>
    public const string Unreadable = "unreadable";

    /// <summary>
    /// The incoming transport dropped a message because this broker's subscription queue was full (the broker fell
    /// behind; NATS's slow-consumer drop). Set <c>SubPendingChannelFullMode</c> to <c>Wait</c> to push back instead.
    /// </summary>
    public const string SlowConsumer = "slow_consumer";

    /// <summary>
    /// The instance stopped, or lost its connection for good, while it held the message: queued in its subscription and
    /// not yet handed to the relay, or in the middle of being published (at-most-once, as in Choria; counted, never silent).
    /// </summary>
    public const string Stopped = "stopped";
}
