using System.Diagnostics;
using Federation.Core.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Federation.Amqp;

/// <summary>
/// A delivery ledger as a durable classic queue on the broker, one persistent message per record, bounded by
/// <c>x-max-length-bytes</c> (the oldest records are dropped first). Units are published in an AMQP transaction on a
/// channel of their own: the messages and the record are held by the broker's channel until <c>tx.commit</c>, so a client
/// that dies or loses its connection before the commit leaves nothing behind, and one that dies after it leaves all of it;
/// <c>tx.commit-ok</c> comes once persistent messages are written to disk. Reading uses <c>basic.get</c> without
/// acknowledging; compaction publishes the snapshot and acknowledges what was read in one transaction. Every channel of the
/// ledger is on the connection's publishing connection (see <see cref="AmqpConnection.CreatePublishChannelAsync"/>).
/// </summary>
/// <remarks>
/// RabbitMQ makes a transaction atomic against a client failure, not against a crash of the broker itself in the middle of
/// a commit that touches several queues, nor against a queue that refuses a message (<c>reject-publish</c>): the commit
/// then fails while the other queues keep what they took, which this reports as <see cref="UnitPartlyCommittedException"/>
/// (see <see cref="PartlyCommittedAsync"/>); see the README's "Duplicate suppression". A commit left unanswered (a
/// blocked connection) is not that: its outcome is unknown (see <see cref="CommitUnansweredAsync"/>).
/// </remarks>
internal sealed class AmqpLedger : IDeliveryLedger
{
    private readonly AmqpConnection connection;
    private readonly string queue;
    private IChannel? readChannel;
    private ulong lastReadTag;
    private IChannel? unitChannel;
    // Set while a unit's tx.commit is under way: a failure then may leave part of the unit stored (see PartlyCommitted).
    private bool committing;
    // Used by PublishAndRecordAsync only, whose calls come one at a time (one unit after the other).
    private readonly TrailConversionCache trails = new();

    /// <summary>
    /// How long the unit's channel waits for the broker's answers (tx.commit-ok above all); null for the client's own
    /// continuation timeout (20 s). Tests shorten it, so that a commit a blocked broker leaves unanswered fails quickly.
    /// </summary>
    internal TimeSpan? UnitContinuationTimeout { get; set; }

    private AmqpLedger(AmqpConnection connection, string queue)
    {
        this.connection = connection;
        this.queue = queue;
    }

    public static async Task<AmqpLedger> OpenAsync(AmqpConnection connection, LedgerOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["x-queue-type"] = "classic",
            ["x-max-length-bytes"] = options.MaxBytes,
        };
        await connection.DeclareQueueAsync(new QueueSpec(options.Name, Durable: true, Arguments: arguments), cancellationToken).ConfigureAwait(false);
        return new AmqpLedger(connection, options.Name);
    }

    public async ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> ReadAsync(CancellationToken cancellationToken)
    {
        var records = new List<ReadOnlyMemory<byte>>();
        await GuardAsync(async () =>
        {
            // On the connection the units are committed on: a read after a commit left unanswered must come behind it in
            // the same socket (see CommitUnansweredAsync), which another connection would not guarantee.
            readChannel ??= await connection.CreatePublishChannelAsync(null, cancellationToken).ConfigureAwait(false);
            // Unacknowledged gets: the records stay in the queue (they return to it when this channel closes) until compaction.
            while (await readChannel.BasicGetAsync(queue, autoAck: false, cancellationToken).ConfigureAwait(false) is { } got)
            {
                records.Add(got.Body.ToArray());
                lastReadTag = got.DeliveryTag;
            }
        }).ConfigureAwait(false);
        return records;
    }

    public async ValueTask CompactAsync(IReadOnlyList<ReadOnlyMemory<byte>> snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (readChannel is not { } channel || lastReadTag == 0)
        {
            throw new InvalidOperationException("Compact needs a read first.");
        }

        await GuardAsync(async () =>
        {
            await channel.TxSelectAsync(cancellationToken).ConfigureAwait(false);
            // Each part is a message of its own, small enough for a downstream max_message_size (see LedgerRecord's parts).
            foreach (var part in snapshot)
            {
                await channel.BasicPublishAsync("", queue, mandatory: false, RecordProperties(persistent: true), part, cancellationToken).ConfigureAwait(false);
            }

            await channel.BasicAckAsync(lastReadTag, multiple: true, cancellationToken).ConfigureAwait(false);
            await channel.TxCommitAsync(cancellationToken).ConfigureAwait(false);
        }).ConfigureAwait(false);
        lastReadTag = 0;
        await CloseAsync(channel).ConfigureAwait(false);
        readChannel = null;
    }

    public async ValueTask PublishAndRecordAsync(IReadOnlyList<LedgerMessage> messages, ReadOnlyMemory<byte> record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        connection.ThrowIfClosed();
        if (readChannel is { } reader)
        {
            // Records read but not compacted go back to the queue now: from here on the ledger only grows.
            readChannel = null;
            await CloseAsync(reader).ConfigureAwait(false);
        }

        await ProbeImpersonationAsync(messages, cancellationToken).ConfigureAwait(false);
        committing = false;
        await GuardAsync(async () =>
        {
            if (unitChannel is null)
            {
                // On the publishing connection, as every channel that publishes messages the broker may refuse (a deleted
                // exchange's 404 above all): see AmqpConnection.CreatePublishChannelAsync. The reads are there too.
                var channel = await connection.CreatePublishChannelAsync(null, cancellationToken).ConfigureAwait(false);
                if (UnitContinuationTimeout is { } timeout)
                {
                    channel.ContinuationTimeout = timeout;
                }

                await channel.TxSelectAsync(cancellationToken).ConfigureAwait(false);
                unitChannel = channel;
            }

            // Never a cancellable token for the publishes and the commit: a half-written unit is what the transaction is for,
            // and a unit is published whole or not at all.
            // One properties object and header table for the unit: each publish is serialised before the next one starts.
            var properties = new BasicProperties();
            var headers = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var index = 0; index < messages.Count; index++)
            {
                var message = messages[index];
                AmqpProperties.CopyToAmqp(message.Properties, properties, headers, alwaysHeaders: false, trails);
                try
                {
                    // The client would throw while writing it, in the middle of the unit (see AmqpShortStringLimit); checked
                    // first, since the frame check below has the client write properties that are near the frame limit.
                    AmqpShortStringLimit.Check(properties, message.Exchange, message.RoutingKey, index);
                    // Sent, it would make the broker close the whole connection (see AmqpFrameLimit).
                    AmqpFrameLimit.Check(properties, connection.Client.FrameMax, message.Exchange, message.RoutingKey, index);
                    // Sent, it would make the broker close the unit's channel (see AmqpMessageSizeLimit).
                    AmqpMessageSizeLimit.Check(message.Body.Length, connection.MaxMessageSize, message.Exchange, message.RoutingKey, index);
                    // The client would throw while writing it, in the middle of the unit (see AmqpRoutingKeyLimit).
                    AmqpRoutingKeyLimit.Check(message.Exchange, message.RoutingKey, index);
                    // A user_id refused on this connection before: it would close the unit's channel (see AmqpUserIdImpersonation).
                    AmqpUserIdImpersonation.Check(properties.UserId, connection.NonImpersonatingUser, message.Exchange, message.RoutingKey, index);
                    // An expiration or CC/BCC header that would close the unit's channel (see AmqpBrokerPreconditions).
                    AmqpBrokerPreconditions.Check(properties, message.Exchange, message.RoutingKey, index);
                }
                catch (MessageRefusedException) when (index > 0)
                {
                    // The unit's earlier messages wait in the broker's channel for the commit: nothing of the unit is published.
                    await unitChannel.TxRollbackAsync(CancellationToken.None).ConfigureAwait(false);
                    throw;
                }

                // RabbitMQ.Client starts its own publish span under Activity.Current and writes its context into the
                // message: under the message's own span, the trace goes on (this runs in an async lambda, so it ends here).
                Activity.Current = message.Span;
                await unitChannel.BasicPublishAsync(message.Exchange, message.RoutingKey, mandatory: false, properties, message.Body, CancellationToken.None).ConfigureAwait(false);
            }

            Activity.Current = null;
            // A record alone (a revocation) is always persistent: it must outlive the record it revokes.
            await unitChannel.BasicPublishAsync("", queue, mandatory: false, RecordProperties(messages.Count == 0 || AnyPersistent(messages)), record, CancellationToken.None).ConfigureAwait(false);
            // The unit's channel is on the publishing connection, which outlives the connection that holds the link's lease
            // for a moment when that one is lost (it is aborted in the background): a unit committed then could come after
            // another instance took the lease and read the ledger. Not committed, it is rolled back with its channel.
            connection.ThrowIfClosed();
            committing = true;
            await unitChannel.TxCommitAsync(CancellationToken.None).ConfigureAwait(false);
            committing = false;
        }, messages).ConfigureAwait(false);
    }

    /// <summary>
    /// Before a unit writes a message claiming another user's <c>user_id</c> while it is not known whether the connection's
    /// user may, the broker is asked on a channel of its own (see <see cref="AmqpImpersonationProbe"/>), so that such a
    /// message is refused before it is written. Learned from the broker's refusal on the unit's channel instead, the unit's
    /// writes behind the refused message race the broker's close of that channel, and one the client lets through after
    /// answering the close makes the broker close the whole connection (504 CHANNEL_ERROR - expected 'channel.open'): every
    /// link restarts, and what the refusal taught goes with the connection.
    /// </summary>
    private async Task ProbeImpersonationAsync(IReadOnlyList<LedgerMessage> messages, CancellationToken cancellationToken)
    {
        foreach (var message in messages)
        {
            if (connection.MustProbeImpersonation(message.Properties.UserId))
            {
                await connection.ProbeImpersonationAsync(message.Exchange, message.RoutingKey).WaitAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (readChannel is { } reader)
        {
            readChannel = null;
            await CloseAsync(reader).ConfigureAwait(false);
        }

        if (unitChannel is { } units)
        {
            unitChannel = null;
            await CloseAsync(units).ConfigureAwait(false);
        }
    }

    // A unit's record is as durable as the most durable message it records. A persistent record makes tx.commit-ok wait
    // until the broker has synced it to disk (about 3 ms here, most of the link's latency at moderate rates). While the
    // ledger's node runs (a crash of the host or of the upstream) it keeps a transient record as it keeps a persistent
    // one. A restart of that node loses transient records; where the messages outlive them (quorum queues keep every
    // message, or queues on other nodes of a cluster), two things are weaker, as the README says: a unit committed but
    // not yet acknowledged upstream is forwarded again, and message-id suppression forgets those messages' ids.
    private static bool AnyPersistent(IReadOnlyList<LedgerMessage> messages)
    {
        for (var index = 0; index < messages.Count; index++)
        {
            if (messages[index].Properties.Persistent)
            {
                return true;
            }
        }

        return false;
    }

    private static BasicProperties RecordProperties(bool persistent) => new()
    {
        DeliveryMode = persistent ? DeliveryModes.Persistent : DeliveryModes.Transient,
        ContentType = "application/octet-stream",
    };

    /// <param name="operation">What to run.</param>
    /// <param name="unit">The messages of the unit that <paramref name="operation"/> publishes, if it is one.</param>
    private async Task GuardAsync(Func<Task> operation, IReadOnlyList<LedgerMessage>? unit = null)
    {
        try
        {
            await operation().ConfigureAwait(false);
        }
        catch (Exception error) when (unit is not null && committing && connection.ClosedError() is null && IsPartialCompletion(error))
        {
            committing = false;
            throw await PartlyCommittedAsync(error).ConfigureAwait(false);
        }
        catch (Exception error) when (unit is not null && committing && connection.ClosedError() is null && error is TimeoutException or OperationCanceledException)
        {
            committing = false;
            throw await CommitUnansweredAsync(error).ConfigureAwait(false);
        }
        catch (Exception error) when (AmqpErrors.Map(error, AmqpErrors.Operation.Other, connection) is { } mapped)
        {
            // A failed channel cannot take further units; the next unit opens a new one (and a link that gets a failure
            // other than a refusal reopens the ledger on its next start).
            if (unitChannel is { IsOpen: false } broken)
            {
                unitChannel = null;
                broken.Dispose();
            }

            throw RefusedForSize(error, unit) ?? RefusedForUserId(error, unit) ?? mapped;
        }
    }

    // AMQP 0-9-1 class and method ids of tx.commit, which the broker names in the channel.close that answers it.
    private const ushort TxClassId = 90;
    private const ushort TxCommitMethodId = 20;

    // What RabbitMQ says when a queue refused a message of a committing transaction (rabbit_channel: "partial tx completion").
    private const string PartialTxCompletion = "partial tx completion";

    /// <summary>
    /// Whether the broker answered the commit itself with 406 "partial tx completion": a queue refused some of the unit's
    /// messages while the others, and the record, may be stored. Only that may revoke a unit. Not an error the channel got
    /// earlier and reports only now (a publish to a deleted exchange closes the channel with 404 naming basic.publish):
    /// nothing of the unit was committed then. Not a commit left unanswered (see <see cref="CommitUnansweredAsync"/>).
    /// </summary>
    private static bool IsPartialCompletion(Exception error) =>
        error is OperationInterruptedException { ShutdownReason: { Initiator: ShutdownInitiator.Peer, ClassId: TxClassId, MethodId: TxCommitMethodId, ReplyCode: PreconditionFailed } reason }
        && reason.ReplyText?.Contains(PartialTxCompletion, StringComparison.OrdinalIgnoreCase) == true;

    private const ushort PreconditionFailed = 406;

    /// <summary>
    /// A unit's tx.commit got no answer within the client's continuation timeout while the connection stayed up: most often
    /// a memory or disk alarm, in which RabbitMQ stops reading from publishing connections, so the commit waits in the
    /// socket and completes, whole, once the alarm clears. Its outcome is unknown, not partial: revoking the unit would
    /// make its redeliveries count as new after it did commit, duplicates. So this is reported as for a lost channel: the
    /// unit's channel is closed (an uncommitted transaction is rolled back by the broker, a committed one stands with its
    /// record) and the link restarts, reading the ledger again after the commit, which went to the broker before anything
    /// the next session sends on this connection. The close waits a bounded time: a blocked broker answers nothing.
    /// </summary>
    private async Task<TransportException> CommitUnansweredAsync(Exception error)
    {
        if (unitChannel is { } channel)
        {
            unitChannel = null;
            await CloseAsync(channel).ConfigureAwait(false);
        }

        var endpoint = connection.Endpoint;
        return new TransportException(
            $"The downstream did not answer the commit of a unit in time ({AmqpErrors.Scrub(error.Message, endpoint.User, endpoint.Password)}; "
            + "a memory or disk alarm blocks publishing connections): the unit may be committed yet, so it is neither revoked nor acknowledged, "
            + "and the link restarts to judge the redeliveries by what the ledger holds.",
            AmqpErrors.SafeInner(error, endpoint.User, endpoint.Password));
    }

    /// <summary>
    /// A unit's tx.commit failed with 406 "partial tx completion" while the connection stayed up. RabbitMQ's commit is not
    /// atomic across queues: it hands every message and the record to their queues, then waits for each queue; one that
    /// refuses (<c>x-overflow: reject-publish</c> or <c>reject-publish-dlx</c> at its limit) fails the commit so and closes
    /// the channel, while what the other queues took stays, the ledger's record among it. So the unit's record may be
    /// stored with messages of it refused: the link revokes it. The broker closed the unit's channel: the revocation and the
    /// next unit use a new one.
    /// </summary>
    /// <remarks>
    /// A connection lost while committing is not one of these: the unit may then have been committed whole (the case the
    /// ledger is for), and the connection cannot tell; see the README's "Duplicate suppression".
    /// </remarks>
    private async Task<UnitPartlyCommittedException> PartlyCommittedAsync(Exception error)
    {
        if (unitChannel is { } channel)
        {
            unitChannel = null;
            await CloseAsync(channel).ConfigureAwait(false);
        }

        var endpoint = connection.Endpoint;
        var cause = error is OperationInterruptedException { ShutdownReason: { } reason }
            ? $"{reason.ReplyCode} {AmqpErrors.Scrub(reason.ReplyText, endpoint.User, endpoint.Password)}"
            : AmqpErrors.Scrub(error.Message, endpoint.User, endpoint.Password);
        return new UnitPartlyCommittedException(
            $"The downstream failed the commit of a unit ({cause}): it may have refused some of the unit's messages and stored the others and the unit's ledger record.",
            AmqpErrors.SafeInner(error, endpoint.User, endpoint.Password));
    }

    /// <summary>
    /// The refusal of a unit's message whose body is over the broker's <c>max_message_size</c>, when that is why the
    /// broker closed the unit's channel. The transaction never committed, so nothing of the unit was published, and the
    /// limit is kept on the connection, so later messages over it are refused before they are written (see
    /// <see cref="AmqpMessageSizeLimit"/>). The broker closes the channel at the first message over the limit, which names
    /// the message to take out of the unit; a link then commits the rest on a new channel and goes on.
    /// </summary>
    private MessageTooLargeException? RefusedForSize(Exception error, IReadOnlyList<LedgerMessage>? unit)
    {
        if (unit is null
            || connection.ClosedError() is not null
            || error is not OperationInterruptedException { ShutdownReason: { } reason }
            || !AmqpMessageSizeLimit.TryReadRefusal(reason, out var limit))
        {
            return null;
        }

        connection.LearnMaxMessageSize(limit);
        for (var index = 0; index < unit.Count; index++)
        {
            var message = unit[index];
            if (message.Body.Length > limit)
            {
                return AmqpMessageSizeLimit.TooLarge(message.Body.Length, limit, message.Exchange, message.RoutingKey, index, refusedByBroker: true);
            }
        }

        // Only the unit's record can have been over the limit: not a refusal of a message, the link fails as it would.
        return null;
    }

    /// <summary>
    /// The refusal of a unit's message whose <c>user_id</c> names another user than the connection's, which may not
    /// impersonate, when that is why the broker closed the unit's channel. As for a size refusal, the transaction never
    /// committed and the refusal is kept on the connection (see <see cref="AmqpUserIdImpersonation"/>); the broker closes
    /// the channel at the first such message, which names the message to take out of the unit.
    /// </summary>
    private MessageRefusedException? RefusedForUserId(Exception error, IReadOnlyList<LedgerMessage>? unit)
    {
        if (unit is null
            || connection.ClosedError() is not null
            || error is not OperationInterruptedException { ShutdownReason: { } reason }
            || !AmqpUserIdImpersonation.TryReadRefusal(reason, connection.LoginUser, out var user))
        {
            return null;
        }

        connection.LearnNonImpersonatingUser(user);
        for (var index = 0; index < unit.Count; index++)
        {
            var message = unit[index];
            if (AmqpUserIdImpersonation.Refuses(message.Properties.UserId, user))
            {
                return AmqpUserIdImpersonation.Refused(message.Properties.UserId!, message.Exchange, message.RoutingKey, index, refusedByBroker: true);
            }
        }

        // No message of the unit claims another user (the record claims none): not a refusal of a message, the link fails.
        return null;
    }

    /// <summary>How long closing a channel may wait for the broker's close-ok before it goes on in the background.</summary>
    internal static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Closes and disposes a channel; never throws. A broker that blocks the connection (a memory or disk alarm) sends no
    /// close-ok until the alarm clears, and the client waits for it whatever token it is given: past
    /// <see cref="CloseTimeout"/> the channel finishes closing in the background.
    /// </summary>
    private static async Task CloseAsync(IChannel channel)
    {
        try
        {
            await CloseAndDisposeAsync(channel).WaitAsync(CloseTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    private static async Task CloseAndDisposeAsync(IChannel channel)
    {
        try
        {
            await channel.CloseAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The channel may already be closed with the connection.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        channel.Dispose();
    }
}
