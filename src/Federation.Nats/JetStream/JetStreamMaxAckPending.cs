using NATS.Client.JetStream.Models;

namespace Federation.Nats.JetStream;

/// <summary>
/// What a link's durable consumer's <c>max_ack_pending</c> must be for the link's <c>prefetch-count</c>
/// (<see cref="JetStreamQueue.Prefetch"/>): at least that when it is above the server's default, which would cap a larger
/// prefetch without a word. Never lowered: another instance may run the link with a larger prefetch. Kept so by
/// <see cref="JetStreamConsumerMinimums"/>.
/// </summary>
internal static class JetStreamMaxAckPending
{
    /// <summary>What nats-server gives a consumer that does not set <c>max_ack_pending</c> (a configured 0 reads as this).</summary>
    public const long ServerDefault = 1000;

    /// <summary>A consumer's <c>max_ack_pending</c> as the server applies it (a 0 reads as the default).</summary>
    public static long EffectiveOf(ConsumerConfig config) =>
        config.MaxAckPending is > 0 and var configured ? configured : ServerDefault;

    /// <summary>Whether a queue that asks for <paramref name="prefetch"/> needs a <c>max_ack_pending</c> of its own.</summary>
    public static bool Needed(int prefetch) => prefetch > ServerDefault;

    /// <summary>
    /// Whether <paramref name="config"/> must be raised to <paramref name="queue"/>'s prefetch: it is needed, the consumer
    /// has less (and not unlimited), and the server did not refuse that prefetch already (warning 6402).
    /// </summary>
    public static bool NeedsRaise(ConsumerConfig config, JetStreamQueue queue)
    {
        var wanted = queue.Prefetch;

        // Below the default when the server's or the account's limit is: new consumers get that limit.
        return Needed(wanted) && config.MaxAckPending >= 0 && EffectiveOf(config) < wanted && queue.MaxAckPendingRefused < wanted;
    }
}
