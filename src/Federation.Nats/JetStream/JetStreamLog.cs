using Microsoft.Extensions.Logging;

namespace Federation.Nats.JetStream;

/// <summary>Log events of the JetStream mode (64xx).</summary>
internal static partial class JetStreamLog
{
    [LoggerMessage(6401, LogLevel.Warning, "JetStream on {Uri}: the durable consumer '{Consumer}' of stream '{Stream}' was missing (deleted under the link); created again from stream sequence {Sequence}, right after the last one the link acknowledged, so nothing still in the stream is skipped")]
    public static partial void ConsumerRecreated(ILogger logger, string uri, string consumer, string stream, ulong sequence);

    [LoggerMessage(6402, LogLevel.Warning, "JetStream on {Uri}: could not raise the max_ack_pending of the durable consumer '{Consumer}' of stream '{Stream}' from {Current} to the link's prefetch-count {Wanted} ({Cause}); the server delivers at most {Current} unacknowledged messages to the link, so it forwards fewer at once than configured. Lower prefetch-count, or raise the account's or server's limit")]
    public static partial void MaxAckPendingNotRaised(ILogger logger, string uri, string consumer, string stream, long current, int wanted, string cause);

    [LoggerMessage(6403, LogLevel.Warning, "JetStream on {Uri}: the durable consumer '{Consumer}' of stream '{Stream}' has an ack wait of {ConsumerAckWaitMs} ms, longer than this link's ack-wait-ms {AckWaitMs}; the longer one is kept (another instance, an earlier configuration or an operator set it, and a shorter one would make the server redeliver messages still in flight: duplicates downstream). To shorten it, lower ack-wait-ms on every instance, then the consumer's ack wait by hand")]
    public static partial void LongerAckWaitKept(ILogger logger, string uri, string consumer, string stream, long consumerAckWaitMs, long ackWaitMs);

    [LoggerMessage(6404, LogLevel.Information, "JetStream on {Uri}: the durable consumer '{Consumer}' of stream '{Stream}' was created at stream sequence {Sequence}, right after the acknowledgement floor of '{Retired}', the consumer of the queue it takes the place of (the downstream was renamed): what that one had not acknowledged, and what the stream captured since, is delivered by this one; messages it had delivered past its floor may arrive twice, none is skipped")]
    public static partial void ConsumerTookOver(ILogger logger, string uri, string consumer, string stream, ulong sequence, string retired);
}
