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

    /// <summary>The client reply subject is not an allowed subject.</summary>
    public const string ReplyRejected = "reply_rejected";

    /// <summary>Publishing failed (connection lost); the message is lost, as in Choria.</summary>
    public const string PublishFailed = "publish_failed";

    /// <summary>
    /// The outgoing transport refused the message before sending it, as one it can never carry (for example a subject over
    /// AMQP's 255-byte routing-key limit); that one message is dropped and the connection is unaffected.
    /// </summary>
    public const string Unsendable = "unsendable";
}
