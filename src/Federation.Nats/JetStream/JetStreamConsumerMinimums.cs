using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Federation.Nats.JetStream;

/// <summary>
/// Keeps what this instance needs of a link's durable consumer, which every instance that runs the link shares: an ack wait
/// at least this URI's <c>ack-wait-ms</c>, and a <c>max_ack_pending</c> at least the link's <c>prefetch-count</c> when that
/// is above the server's default (see <see cref="JetStreamMaxAckPending"/>). Never lowers either: another instance (or an
/// earlier configuration, or an operator) may need more.
/// </summary>
/// <remarks>
/// <para>nats-server 2.9 has no conditional consumer update, and an update writes the whole configuration: a write made from
/// what was read undoes whatever another instance wrote between that read and this write, and its create silently updates
/// an existing consumer. So this instance writes only when the consumer has less than it needs, and then what it read
/// with its own needs raised, both in one write (never a lower value of either); it reads the consumer back and writes
/// again while it still shows less (<see cref="RaiseAsync"/>), and a running link looks again now and then
/// (<see cref="KeepAsync"/>), for another instance's write that landed after it last looked. Each instance so restores
/// what it needs, and the larger need holds.</para>
/// <para>The ack wait follows the longer setting, not the last instance that started: a too-short ack wait makes the server
/// redeliver messages still in flight (duplicates downstream, past the duplicate window), a too-long one only delays the
/// redelivery after a crash. An instance whose <c>ack-wait-ms</c> is shorter than the consumer's keeps the consumer's and
/// logs it once (warning 6403, naming both), so that a rolling configuration change no longer flips the ack wait at every
/// start of the link. To shorten it, lower <c>ack-wait-ms</c> on every instance, then the consumer's ack wait by hand.</para>
/// <para>A <c>max_ack_pending</c> raise the server refuses (an account or server limit) is logged once (warning 6402) and
/// not asked again: the link runs with the lower limit.</para>
/// </remarks>
internal sealed class JetStreamConsumerMinimums(NatsJSContext js, TimeSpan ackWait, string displayUri, NatsOpts auth, ILogger logger)
{
    // Writes in a row before the next look of KeepAsync takes over: each one lost to a write of another instance that read
    // before it, which only instances that start at the same moment make.
    private const int Attempts = 3;

    /// <summary>When a running link looks first; each look after waits twice as long, up to <see cref="LookEveryAtMost"/>.</summary>
    internal static readonly TimeSpan FirstLook = TimeSpan.FromSeconds(1);

    /// <summary>How long a running link waits at most between two looks at its consumer.</summary>
    internal static readonly TimeSpan LookEveryAtMost = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The configuration to write so that <paramref name="read"/> has at least what <paramref name="queue"/> needs, with
    /// <paramref name="ackWait"/>: what was read, each value the larger of the read one and the needed one; or null when
    /// <paramref name="read"/> has enough already (nothing to write).
    /// </summary>
    public static ConsumerConfig? Raised(ConsumerConfig read, TimeSpan ackWait, JetStreamQueue queue)
    {
        var raiseAckWait = read.AckWait < ackWait;
        var raiseMaxAckPending = JetStreamMaxAckPending.NeedsRaise(read, queue);
        if (!raiseAckWait && !raiseMaxAckPending)
        {
            return null;
        }

        return read with
        {
            AckWait = raiseAckWait ? ackWait : read.AckWait,
            MaxAckPending = raiseMaxAckPending ? queue.Prefetch : read.MaxAckPending,
        };
    }

    /// <summary>
    /// Raises <paramref name="consumer"/>'s ack wait and <c>max_ack_pending</c> to what <paramref name="queue"/> needs where
    /// they are lower, reads it back, and raises again while another instance's write lowered them meanwhile (a few times
    /// at most). Returns the consumer as last read.
    /// </summary>
    /// <exception cref="NatsJSApiException">The consumer is gone (code 404) when read back, or the server refused a write
    /// for another reason than the <c>max_ack_pending</c> limit (see <see cref="JetStreamErrors.MaxAckPendingOverLimit"/>).</exception>
    public async ValueTask<INatsJSConsumer> RaiseAsync(string stream, JetStreamQueue queue, INatsJSConsumer consumer, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var read = consumer.Info.Config;
            ReportIfLonger(stream, queue, read);
            if (Raised(read, ackWait, queue) is not { } raised)
            {
                return consumer;
            }

            try
            {
                await js.UpdateConsumerAsync(stream, raised, cancellationToken).ConfigureAwait(false);
            }
            catch (NatsJSApiException ex) when (raised.MaxAckPending != read.MaxAckPending && ex.Error.ErrCode == JetStreamErrors.MaxAckPendingOverLimit)
            {
                // Over the server's or the account's limit: not asked again; a raise of the ack wait that came with it is
                // written alone at the next attempt. Any other refusal (JetStream briefly unavailable, the consumer deleted
                // or created again meanwhile) says nothing of a limit: it is thrown, as for the ack wait, and asked again.
                Refused(stream, queue, JetStreamMaxAckPending.EffectiveOf(read), queue.Prefetch, ex);
                continue;
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
        Refused(stream, queue, JetStreamMaxAckPending.EffectiveOf(consumer.Info.Config), queue.Prefetch, refusal);

    /// <summary>
    /// While a consumer of <paramref name="queue"/> runs: looks at the durable consumer now and then (after
    /// <see cref="FirstLook"/>, then twice as long each time up to <see cref="LookEveryAtMost"/>) and raises it again when
    /// another instance's write lowered what this one needs. Ends when <paramref name="cancellationToken"/> is cancelled; a
    /// consumer that is gone, or a look that fails, is left to the consume loop and to the connection, which report those.
    /// </summary>
    public async Task KeepAsync(JetStreamQueue queue, JetStreamAttachment attachment, CancellationToken cancellationToken)
    {
        var wait = FirstLook;
        while (true)
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            wait = wait * 2 < LookEveryAtMost ? wait * 2 : LookEveryAtMost;
            try
            {
                var consumer = await js.GetConsumerAsync(attachment.Stream, queue.ConsumerName, cancellationToken).ConfigureAwait(false);
                await RaiseAsync(attachment.Stream, queue, consumer, cancellationToken).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A look is best effort: what fails here is the consume loop's or the connection's to report.
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
            {
                // Deleted (the consume loop fails the link, whose next run creates it again with these settings), or the
                // connection failed (reported by the connection): the next look tries again.
            }
        }
    }

    private void ReportIfLonger(string stream, JetStreamQueue queue, ConsumerConfig read)
    {
        if (read.AckWait > ackWait && queue.FirstSeenLongerAckWait(read.AckWait))
        {
            JetStreamLog.LongerAckWaitKept(logger, displayUri, queue.ConsumerName, stream, (long)read.AckWait.TotalMilliseconds, (long)ackWait.TotalMilliseconds);
        }
    }

    private void Refused(string stream, JetStreamQueue queue, long current, int wanted, NatsJSApiException refusal)
    {
        queue.MaxAckPendingRefused = wanted;
        JetStreamLog.MaxAckPendingNotRaised(logger, displayUri, queue.ConsumerName, stream, current, wanted, Transport.NatsErrorText.Scrub(refusal.Error.Description ?? refusal.Message, auth));
    }
}
