using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Federation.Nats.JetStream;

/// <summary>
/// Keeps a link's durable consumer's <c>max_ack_pending</c> at least at the link's <c>prefetch-count</c>
/// (<see cref="JetStreamQueue.Prefetch"/>) when that is above the server's default, which would cap a larger prefetch
/// without a word. Never lowers it: another instance may run the link with a larger prefetch.
/// </summary>
/// <remarks>
/// nats-server 2.9 has no conditional consumer update, and its consumer create silently updates an existing consumer: two
/// instances that start the link at the same moment each write a whole configuration made from what they read, and the
/// last write wins, even one that lowers what the other just raised. So a raise is read back and made again while the
/// server shows less (<see cref="RaiseAsync"/>), and a running link looks again now and then
/// (<see cref="KeepAsync"/>), for a write that landed after it last looked. A raise the server refuses (an account or server
/// limit) is logged once (warning 6402) and not asked again: the link runs with the lower limit.
/// </remarks>
internal sealed class JetStreamMaxAckPending(NatsJSContext js, string displayUri, NatsOpts auth, ILogger logger)
{
    /// <summary>What nats-server gives a consumer that does not set <c>max_ack_pending</c> (a configured 0 reads as this).</summary>
    public const long ServerDefault = 1000;

    // Raises in a row before the next look of KeepAsync takes over: each one lost to a write of another instance that read
    // before it, which only instances that start at the same moment make.
    private const int Attempts = 3;

    /// <summary>When a running link looks first; each look after waits twice as long, up to <see cref="LookEveryAtMost"/>.</summary>
    internal static readonly TimeSpan FirstLook = TimeSpan.FromSeconds(1);

    /// <summary>How long a running link waits at most between two looks at its consumer's limit.</summary>
    internal static readonly TimeSpan LookEveryAtMost = TimeSpan.FromSeconds(30);

    /// <summary>A consumer's <c>max_ack_pending</c> as the server applies it (a 0 reads as the default).</summary>
    public static long EffectiveOf(INatsJSConsumer consumer) =>
        consumer.Info.Config.MaxAckPending is > 0 and var configured ? configured : ServerDefault;

    /// <summary>Whether a queue that asks for <paramref name="prefetch"/> needs a <c>max_ack_pending</c> of its own.</summary>
    public static bool Needed(int prefetch) => prefetch > ServerDefault;

    /// <summary>
    /// Raises <paramref name="consumer"/>'s <c>max_ack_pending</c> to <paramref name="queue"/>'s prefetch when it is lower,
    /// reads it back, and raises it again while another instance's write lowered it meanwhile (a few times at most). Returns
    /// the consumer as last read.
    /// </summary>
    /// <exception cref="NatsJSApiException">The consumer is gone (code 404) when read back.</exception>
    public async ValueTask<INatsJSConsumer> RaiseAsync(string stream, JetStreamQueue queue, INatsJSConsumer consumer, CancellationToken cancellationToken)
    {
        var wanted = queue.Prefetch;
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            // Below the default when the server's or the account's limit is: new consumers get that limit.
            var current = EffectiveOf(consumer);
            if (!Needed(wanted) || consumer.Info.Config.MaxAckPending < 0 || current >= wanted || queue.MaxAckPendingRefused >= wanted)
            {
                return consumer;
            }

            try
            {
                await js.UpdateConsumerAsync(stream, consumer.Info.Config with { MaxAckPending = wanted }, cancellationToken).ConfigureAwait(false);
            }
            catch (NatsJSApiException ex)
            {
                Refused(stream, queue, current, wanted, ex);
                return consumer;
            }

            // What the update answers is this write's result, not what the server keeps once another instance's lands.
            consumer = await js.GetConsumerAsync(stream, queue.ConsumerName, cancellationToken).ConfigureAwait(false);
        }

        return consumer;
    }

    /// <summary>
    /// After a create that asked for <paramref name="queue"/>'s prefetch and was refused over a limit: logs it (warning 6402)
    /// with the limit the consumer has, and asks no more for this queue.
    /// </summary>
    public void CreatedWithoutRaise(string stream, JetStreamQueue queue, INatsJSConsumer consumer, NatsJSApiException refusal) =>
        Refused(stream, queue, EffectiveOf(consumer), queue.Prefetch, refusal);

    /// <summary>
    /// While a consumer of <paramref name="queue"/> runs: looks at the durable consumer's limit now and then (after
    /// <see cref="FirstLook"/>, then twice as long each time up to <see cref="LookEveryAtMost"/>) and raises it again when
    /// another instance's write lowered it. Ends when <paramref name="cancellationToken"/> is cancelled; a consumer that is
    /// gone, or a look that fails, is left to the consume loop and to the connection, which report those.
    /// </summary>
    public async Task KeepAsync(JetStreamQueue queue, JetStreamAttachment attachment, CancellationToken cancellationToken)
    {
        var wait = FirstLook;
        while (true)
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            wait = wait * 2 < LookEveryAtMost ? wait * 2 : LookEveryAtMost;
            if (!Needed(queue.Prefetch) || queue.MaxAckPendingRefused >= queue.Prefetch)
            {
                continue;
            }

            try
            {
                var consumer = await js.GetConsumerAsync(attachment.Stream, queue.ConsumerName, cancellationToken).ConfigureAwait(false);
                await RaiseAsync(attachment.Stream, queue, consumer, cancellationToken).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A look is best effort: what fails here is the consume loop's or the connection's to report.
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
            {
                // Deleted (the consume loop fails the link, whose next run creates it again with this prefetch), or the
                // connection failed (reported by the connection): the next look tries again.
            }
        }
    }

    private void Refused(string stream, JetStreamQueue queue, long current, int wanted, NatsJSApiException refusal)
    {
        queue.MaxAckPendingRefused = wanted;
        JetStreamLog.MaxAckPendingNotRaised(logger, displayUri, queue.ConsumerName, stream, current, wanted, Transport.NatsErrorText.Scrub(refusal.Error.Description ?? refusal.Message, auth));
    }
}
