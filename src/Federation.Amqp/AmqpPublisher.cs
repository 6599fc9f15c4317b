using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Tasks.Sources;
using Federation.Core.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Federation.Amqp;

/// <summary>
/// Publishes on its own channel. Call order is kept by one ordered drain at a time: <see cref="PublishAsync"/> converts the
/// properties synchronously and queues the message, and whichever call finds no drain running writes the queue in order,
/// inline on its own thread, until the queue is empty. Pipelined calls therefore reach the broker in call order without
/// relying on when <c>BasicPublishAsync</c> first yields, and at moderate rates a publish is written on the caller's
/// thread without a hand-off to another one (a drain that has to wait, for the confirm window or the client, carries on
/// asynchronously while later calls only queue). With confirms, the channel is in confirm mode without the client's own
/// tracking (which would add an <c>x-dotnet-pub-seq-no</c> header to every message); this class correlates <c>basic.ack</c>/<c>basic.nack</c>
/// by sequence number and bounds the unconfirmed messages by <see cref="PublisherOptions.MaxOutstandingConfirms"/>.
/// </summary>
/// <remarks>
/// Confirms arrive on the client's connection loop, often many at once (<c>multiple</c>). The publishes they settle are
/// completed together on one thread-pool work item, whose continuations run inline: one hand-off per confirm frame
/// instead of one per message, and never the caller's code on the client's connection loop. Callers must therefore not
/// block in a continuation of one publish waiting for another publish to complete.
/// <para>
/// Nothing is allocated per publish on the steady path but the header values' copies (an <c>x-received-from</c> trail equal
/// to a recent one is not copied again: <see cref="TrailConversionCache"/>): each publish rents a
/// <see cref="Pending"/> from a pool, which is the <see cref="IValueTaskSource"/> behind the returned
/// <see cref="ValueTask"/> and carries reusable client properties and header table; it returns to the pool when the caller
/// takes its result. Whoever takes a publish out of the confirm window (a confirm, a channel failure, or the drain
/// withdrawing a publish that was not written) completes it, exactly once.
/// </para>
/// </remarks>
internal sealed class AmqpPublisher : IMessagePublisher
{
    private readonly AmqpConnection connection;
    private readonly PublisherOptions options;
    // Without confirms a publish completes once written; completions are handed off in batches of at most this many.
    private const int WrittenBatch = 256;
    private const int Idle = 0, Draining = 1, Closed = 2;
    private readonly ConcurrentQueue<Pending> queue = new();
    // Idle, Draining (one drain writes the queue), or Closed (disposed: whoever finds a message queued fails it).
    private int drainState;
    private Task drain = Task.CompletedTask;
    // Completed publishes whose callers have taken the result, ready for reuse; bounded so a burst does not pin memory:
    // at most a full confirm window plus one batch written without confirms.
    private readonly BoundedPool<Pending> pool;
    // Completion batches ready for reuse: a few are in use at once (one per confirm frame being completed).
    private readonly BoundedPool<CompletionBatch> batches;
    private const int BatchPoolLimit = 4;
    // Never disposed: late confirms may still release it, and without AvailableWaitHandle it holds nothing to free.
    private readonly SemaphoreSlim window;
    // Used by PublishAsync only, whose calls come one at a time.
    private readonly TrailConversionCache trails = new();
    private PublishChannel? channel;
    private volatile bool disposed;
    // Cancelled by DisposeAsync once the drain has had its time: aborts a write waiting for the confirm window or the
    // client. Never disposed: a write may still read its token; without a timer it holds nothing to free.
    private readonly CancellationTokenSource closing = new();

    /// <summary>
    /// How long <see cref="DisposeAsync"/> lets the drain write what was queued, and then how long it waits for the broker
    /// to close the channel (10 s at most in all). A broker that blocks the connection (a memory or disk alarm) reads
    /// nothing and confirms nothing until the alarm clears, which may be hours: the publishes still waiting fail instead
    /// (a link redelivers them from the upstream, or counts them as lost when the upstream cannot), and the link can stop
    /// or restart.
    /// </summary>
    internal static readonly TimeSpan DisposeTimeout = TimeSpan.FromSeconds(5);

    private AmqpPublisher(AmqpConnection connection, PublisherOptions options, IChannel channel)
    {
        this.connection = connection;
        this.options = options;
        var confirmWindow = Math.Max(1, options.MaxOutstandingConfirms);
        window = new SemaphoreSlim(confirmWindow);
        // The window is a link's prefetch-count, which only an AMQP upstream bounds (to 65535): from a JetStream upstream it
        // may come near int.MaxValue, where adding the batch would overflow to a negative limit and fail every publisher.
        pool = new BoundedPool<Pending>(() => new Pending(this), confirmWindow > int.MaxValue - WrittenBatch ? int.MaxValue : confirmWindow + WrittenBatch);
        batches = new BoundedPool<CompletionBatch>(() => new CompletionBatch(this), BatchPoolLimit);
        Attach(channel);
    }

    public static async Task<AmqpPublisher> OpenAsync(AmqpConnection connection, PublisherOptions options, CancellationToken cancellationToken)
    {
        var channel = await OpenChannelAsync(connection, options, cancellationToken).ConfigureAwait(false);
        return new AmqpPublisher(connection, options, channel);
    }

    public ValueTask PublishAsync(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        ArgumentNullException.ThrowIfNull(routingKey);
        ArgumentNullException.ThrowIfNull(properties);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        if (disposed)
        {
            return ValueTask.FromException(new ObjectDisposedException(nameof(IMessagePublisher)));
        }

        if (connection.ClosedError() is { } closed)
        {
            return ValueTask.FromException(closed);
        }

        // Converted now: the caller may change its properties as soon as this call returns.
        var pending = pool.Rent();
        pending.Prepare(exchange, routingKey, properties, body, alwaysHeaders: options.Confirms, trails, cancellationToken);
        pending.Caller = Activity.Current;
        var done = new ValueTask(pending, pending.Version);
        queue.Enqueue(pending);
        switch (Interlocked.CompareExchange(ref drainState, Draining, Idle))
        {
            case Idle:
                drain = DrainAsync();
                break;
            case Closed:
                FailQueued();
                break;
        }

        // A cancellable caller may stop waiting before the publisher is done with the pending publish; it then returns
        // to the pool only once the publisher completes it (AsTask takes the result then).
        return cancellationToken.CanBeCanceled ? new ValueTask(done.AsTask().WaitAsync(cancellationToken)) : done;
    }

    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        // Let the running drain write what was queued before, then close: later publishes fail (FailQueued). A drain
        // that is still waiting when its time is up is aborted: what it has not written fails (see DisposeTimeout).
        using (var patience = new CancellationTokenSource(DisposeTimeout))
        using (patience.Token.UnsafeRegister(static state => _ = ((CancellationTokenSource)state!).CancelAsync(), closing))
        {
            while (Interlocked.CompareExchange(ref drainState, Closed, Idle) != Idle)
            {
                await Volatile.Read(ref drain).ConfigureAwait(false);
                await Task.Yield();
            }
        }

        FailQueued();
        if (channel is { } current)
        {
            // Confirms that come while the channel closes still settle their publishes. A broker that blocks the connection
            // sends no close-ok until the alarm clears, and the client waits for it whatever token it is given: past the
            // time, the channel finishes closing in the background, and what it did not confirm fails.
            try
            {
                await CloseAsync(current.Channel).WaitAsync(DisposeTimeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }

            FailOutstanding(current, new ConnectionLostException("The publisher was disposed before the broker confirmed the message."));
        }
    }

    /// <summary>Closes and disposes a channel; never throws.</summary>
    private static async Task CloseAsync(IChannel channel)
    {
        try
        {
            try
            {
                await channel.CloseAsync().ConfigureAwait(false);
            }
            finally
            {
                channel.Dispose();
            }
        }
#pragma warning disable CA1031 // The channel may already be closed with the connection; the publisher is done with it either way.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private static Task<IChannel> OpenChannelAsync(AmqpConnection connection, PublisherOptions options, CancellationToken cancellationToken) =>
        connection.CreatePublishChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: options.Confirms, publisherConfirmationTrackingEnabled: false), cancellationToken);

    private void Attach(IChannel newChannel)
    {
        // The channel and its confirm window travel together; a publisher has one channel for its whole life (see WriteAsync).
        var attached = new PublishChannel(newChannel);
        channel = attached;
        newChannel.BasicAcksAsync += (_, args) => Settle(attached, args.DeliveryTag, args.Multiple, nacked: false);
        newChannel.BasicNacksAsync += (_, args) => Settle(attached, args.DeliveryTag, args.Multiple, nacked: true);
        newChannel.ChannelShutdownAsync += (_, reason) =>
        {
            ChannelClosed(attached, reason);
            return Task.CompletedTask;
        };
    }

    private TransportException ChannelClosedError(ShutdownEventArgs reason)
    {
        if (connection.ClosedError() is { } lost)
        {
            return lost;
        }

        if (AmqpMessageSizeLimit.TryReadRefusal(reason, out var limit))
        {
            // Not the broker's text: it names another message's size, and this one is not too large (see ChannelClosed).
            return new TransportException($"The broker closed the publishing channel after refusing another message over its max_message_size of {limit} bytes; this message was not confirmed.");
        }

        if (AmqpUserIdImpersonation.TryReadRefusal(reason, connection.LoginUser, out _))
        {
            // Not the broker's text either: it names another message's user_id, and this one claims none the broker refuses.
            return new TransportException("The broker closed the publishing channel after refusing another message's user_id, which the downstream connection's user may not claim (406 PRECONDITION_FAILED); this message was not confirmed.");
        }

        return AmqpErrors.FromReason(reason, AmqpErrors.Operation.Other, null, connection.Endpoint);
    }

    /// <summary>
    /// Fails what waits for a confirm on a channel the broker closed. When it closed the channel over a message larger than
    /// its <c>max_message_size</c>, the limit is kept on the connection, so later messages over it are refused before they
    /// are written, and every publish in the window over it fails with <see cref="MessageTooLargeException"/>: the first
    /// of them is the one the broker refused, and any later one would be refused too. A link rejects those upstream and
    /// goes on. The others fail as at any channel loss (the broker may have routed those before the refused one without
    /// confirming them, and dropped those after it), and the publisher stays closed (see <see cref="WriteAsync"/>): a link
    /// starts a new session, its upstream redelivers them in order, and a redelivered message over the limit is refused
    /// before it is written. So the first refusal on a connection costs the link one restart, none of its messages.
    /// </summary>
    private void ChannelClosed(PublishChannel source, ShutdownEventArgs reason)
    {
        if (connection.ClosedError() is null && AmqpUserIdImpersonation.TryReadRefusal(reason, connection.LoginUser, out var user))
        {
            UserIdRefused(source, reason, user);
            return;
        }

        if (connection.ClosedError() is not null || !AmqpMessageSizeLimit.TryReadRefusal(reason, out var limit))
        {
            FailOutstanding(source, ChannelClosedError(reason));
            return;
        }

        connection.LearnMaxMessageSize(limit);
        var failed = batches.Rent();
        lock (source.Outstanding)
        {
            source.Outstanding.TakeAll(failed.Settled);
        }

        // Each refusal names its own message, so each completes on its own (rare: one per refusal by the broker).
        for (var index = failed.Settled.Count - 1; index >= 0; index--)
        {
            var pending = failed.Settled[index];
            if (pending.Body.Length > limit)
            {
                failed.Settled.RemoveAt(index);
                Complete(BatchOf(pending), ConfirmOutcome.Failed, AmqpMessageSizeLimit.TooLarge(pending.Body.Length, limit, pending.Exchange, pending.RoutingKey, 0, refusedByBroker: true), releasesWindow: true);
            }
        }

        Complete(failed, ConfirmOutcome.Failed, ChannelClosedError(reason), releasesWindow: true);
    }

    /// <summary>
    /// Fails what waits for a confirm on a channel the broker closed over a message whose <c>user_id</c> named another user
    /// than the connection's, which may not impersonate: as for a size refusal (see <see cref="ChannelClosed"/>), that is
    /// kept on the connection, so later such messages are refused before they are written, and every publish in the window
    /// that claims another user fails with a <see cref="MessageRefusedException"/> (the first of them is the one the broker
    /// refused, and any later one would be refused too). The others fail as at any channel loss, and the link restarts once.
    /// Only when the probe could not tell (see <see cref="AmqpImpersonationProbe"/>): otherwise such a message is refused
    /// before it is written.
    /// </summary>
    private void UserIdRefused(PublishChannel source, ShutdownEventArgs reason, string user)
    {
        connection.LearnNonImpersonatingUser(user);
        if (!options.Confirms)
        {
            CountLostWithRefusedClaim(source);
        }
        var failed = batches.Rent();
        lock (source.Outstanding)
        {
            source.Outstanding.TakeAll(failed.Settled);
        }

        // Each refusal names its own message, so each completes on its own (rare: one per refusal by the broker).
        for (var index = failed.Settled.Count - 1; index >= 0; index--)
        {
            var pending = failed.Settled[index];
            if (AmqpUserIdImpersonation.Refuses(pending.Properties.UserId, user))
            {
                failed.Settled.RemoveAt(index);
                Complete(BatchOf(pending), ConfirmOutcome.Failed, AmqpUserIdImpersonation.Refused(pending.Properties.UserId!, pending.Exchange, pending.RoutingKey, 0, refusedByBroker: true), releasesWindow: true);
            }
        }

        Complete(failed, ConfirmOutcome.Failed, ChannelClosedError(reason), releasesWindow: true);
    }

    /// <summary>
    /// Without confirms, a message claiming another user was written while the probe could not tell whether the user may
    /// (see <see cref="AmqpConnection.ClaimsUnverified"/>), and the broker closed the channel over such a claim: the first
    /// claim written is the refused message, and everything written from it on was dropped with the channel. Their writes
    /// completed, so nobody else will count them: they are reported here, once (later writes count themselves).
    /// </summary>
    private void CountLostWithRefusedClaim(PublishChannel source)
    {
        long written;
        (string UserId, string Exchange, string RoutingKey) claim;
        lock (source.ClaimSync)
        {
            source.ClaimLossCounted = true;
            written = source.WrittenSinceClaim;
            claim = source.FirstClaim;
            source.RefusalCounted = written > 0;
        }

        if (written == 0)
        {
            // The refused claim's write has not returned yet: it counts itself as refused (see WrittenSinceUnverifiedClaim).
            return;
        }

        options.Dropped?.Invoke(AmqpUserIdImpersonation.RefusedDropReason, 1, AmqpUserIdImpersonation.Refused(claim.UserId, claim.Exchange, claim.RoutingKey, 0, refusedByBroker: true).Message);
        if (written > 1)
        {
            options.Dropped?.Invoke(AmqpUserIdImpersonation.LostBehindDropReason, written - 1, LostBehindClaimCause);
        }
    }

    /// <summary>Notes a message written without confirms from the first unverified claim on (see <see cref="CountLostWithRefusedClaim"/>).</summary>
    private void WrittenSinceUnverifiedClaim(PublishChannel source, Pending pending, bool unverifiedClaim)
    {
        bool counted;
        var refused = false;
        lock (source.ClaimSync)
        {
            counted = source.ClaimLossCounted;
            if (counted && unverifiedClaim && !source.RefusalCounted)
            {
                // The close over this claim was handled before its write returned (a loaded machine): it is the refused one.
                source.RefusalCounted = true;
                refused = true;
            }

            if (!counted)
            {
                if (source.WrittenSinceClaim == 0)
                {
                    source.FirstClaim = (pending.Properties.UserId!, pending.Exchange, pending.RoutingKey);
                }

                source.WrittenSinceClaim++;
                source.TracksClaim = true;
            }
        }

        if (refused)
        {
            options.Dropped?.Invoke(AmqpUserIdImpersonation.RefusedDropReason, 1, AmqpUserIdImpersonation.Refused(pending.Properties.UserId!, pending.Exchange, pending.RoutingKey, 0, refusedByBroker: true).Message);
        }
        else if (counted)
        {
            // Written after the close was handled: dropped with the channel, and counted on its own.
            options.Dropped?.Invoke(AmqpUserIdImpersonation.LostBehindDropReason, 1, LostBehindClaimCause);
        }
    }

    private const string LostBehindClaimCause =
        "the message was written without confirms on a channel the broker closed over an earlier message's user_id, which the downstream connection's user may not claim (406 PRECONDITION_FAILED), and was dropped with it";

    /// <summary>Writes the queue in order until it is empty; only one runs at a time (<see cref="drainState"/>).</summary>
    private async Task DrainAsync()
    {
        CompletionBatch? written = null;
        while (true)
        {
            while (queue.TryDequeue(out var pending))
            {
                if (await WriteAsync(pending).ConfigureAwait(false))
                {
                    (written ??= batches.Rent()).Settled.Add(pending);
                    if (written.Settled.Count == WrittenBatch)
                    {
                        Complete(written, ConfirmOutcome.Acked, null, releasesWindow: false);
                        written = null;
                    }
                }
            }

            if (written is not null)
            {
                Complete(written, ConfirmOutcome.Acked, null, releasesWindow: false);
                written = null;
            }

            // A call that queued after our last TryDequeue saw Draining and left its message to us: look again.
            Volatile.Write(ref drainState, Idle);
            if (queue.IsEmpty || Interlocked.CompareExchange(ref drainState, Draining, Idle) != Idle)
            {
                return;
            }
        }
    }

    /// <summary>Fails what is queued once the publisher is closed.</summary>
    private void FailQueued()
    {
        while (queue.TryDequeue(out var pending))
        {
            pending.Complete(ConfirmOutcome.Failed, new ObjectDisposedException(nameof(IMessagePublisher)));
        }
    }

    /// <summary>
    /// Writes one message; returns whether it is complete once written (no confirms). Otherwise it is in the confirm window,
    /// or it failed and was completed here. Never throws.
    /// </summary>
    /// <remarks>
    /// The caller's token reaches the client: a publish whose caller gave up before it was written is not written.
    /// RabbitMQ.Client 7.2.1 fixed #1900 (a cancelled token released the client's confirm semaphore it never took, which
    /// corrupted the publish sequence numbers), so a publish that fails or is cancelled in the client leaves the numbering
    /// intact: the client hands the same number to the next publish, and the window gives it back with
    /// <see cref="ConfirmWindow{T}.Withdraw"/>.
    /// </remarks>
    private async ValueTask<bool> WriteAsync(Pending pending)
    {
        // The drain may run in another caller's context. RabbitMQ.Client starts its publish span (when listened to) under
        // Activity.Current and writes that span's traceparent over the message's: run it under this publish's caller's span,
        // so that it continues that trace instead of another one. This method is async, so the change ends with it.
        if (Activity.Current != pending.Caller)
        {
            Activity.Current = pending.Caller;
        }

        // The caller's token, and the publisher's own for an aborted dispose; linked only for a caller that can cancel.
        using var linked = pending.CancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(pending.CancellationToken, closing.Token) : null;
        var cancellationToken = linked?.Token ?? closing.Token;
        PublishChannel current;
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            connection.ThrowIfClosed();
            current = channel!;
            // Over the broker's max_message_size as learned on this connection: it would close the channel, so it is
            // refused here, alone (see AmqpMessageSizeLimit). Checked first, so it is refused as such on a closed channel too.
            AmqpMessageSizeLimit.Check(pending.Body.Length, connection.MaxMessageSize, pending.Exchange, pending.RoutingKey);
            if (connection.MustProbeImpersonation(pending.Properties.UserId))
            {
                // The broker is asked first (once per connection; see AmqpImpersonationProbe) rather than told by a refusal of
                // this message. Without confirms that refusal would tell nobody: this message and what is written behind it
                // until the channel closes would be lost unnoticed. With confirms the writes behind it race the broker's close
                // of this channel, and one the client lets through after answering the close makes the broker close the
                // whole connection (504 CHANNEL_ERROR), so every link restarts and what the refusal taught is lost with it.
                await connection.ProbeImpersonationAsync(pending.Exchange, pending.RoutingKey).WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            // A user_id the broker refused on this connection before: it would close the channel too (see AmqpUserIdImpersonation).
            AmqpUserIdImpersonation.Check(pending.Properties.UserId, connection.NonImpersonatingUser, pending.Exchange, pending.RoutingKey);
            // The client would throw while writing it (see AmqpRoutingKeyLimit): refused alone, in order, instead.
            AmqpRoutingKeyLimit.Check(pending.Exchange, pending.RoutingKey);
            // Likewise a string property or header name over 255 bytes (see AmqpShortStringLimit).
            AmqpShortStringLimit.Check(pending.Properties, pending.Exchange, pending.RoutingKey);
            // An expiration or CC/BCC header the broker would close the channel over (see AmqpBrokerPreconditions).
            AmqpBrokerPreconditions.Check(pending.Properties, pending.Exchange, pending.RoutingKey);
            if (!current.Channel.IsOpen)
            {
                // The broker closed the channel on an earlier publish (a missing exchange, a message over the size limit).
                // Writing this one on a new channel would let it overtake the refused one, which comes again only after the
                // caller's retry (for a link: a reordering and a duplicate), and nothing tells when the caller has seen
                // the failure. So the publisher stays failed, as a NATS publisher does: the caller opens a new one.
                CompleteUnwritten(pending, ChannelClosedError(current.Channel.CloseReason ?? new ShutdownEventArgs(ShutdownInitiator.Library, 0, "The channel is closed.")));
                return false;
            }

            // Sent, it would make the broker close the whole connection; refused here, it fails alone (see AmqpFrameLimit).
            AmqpFrameLimit.Check(pending.Properties, connection.Client.FrameMax, pending.Exchange, pending.RoutingKey);

            if (!options.Confirms)
            {
                // Asked before the write: the broker's close over this very claim may be handled before the write returns,
                // and it teaches the connection that the user may not claim, after which the claim no longer looks unverified.
                var unverifiedClaim = connection.ClaimsUnverified(pending.Properties.UserId);
                await current.Channel.BasicPublishAsync(pending.Exchange, pending.RoutingKey, mandatory: false, pending.Properties, pending.Body, cancellationToken).ConfigureAwait(false);
                if (current.TracksClaim || unverifiedClaim)
                {
                    // The probe could not tell whether this claim is allowed: if the broker refuses it, what follows is lost too.
                    WrittenSinceUnverifiedClaim(current, pending, unverifiedClaim);
                }

                return true;
            }

            await window.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error)
        {
            CompleteUnwritten(pending, error);
            return false;
        }

        var client = current.Channel;
        ulong sequenceNumber;
        try
        {
            sequenceNumber = await client.GetNextPublishSequenceNumberAsync(CancellationToken.None).ConfigureAwait(false);
            lock (current.Outstanding)
            {
                current.Outstanding.Add(sequenceNumber, pending);
            }
        }
        catch (Exception error)
        {
            window.Release();
            CompleteUnwritten(pending, error);
            return false;
        }

        try
        {
            await client.BasicPublishAsync(pending.Exchange, pending.RoutingKey, mandatory: false, pending.Properties, pending.Body, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error)
        {
            // Not written: the client gives this sequence number to the next publish, so the window must not hold it. If a
            // channel failure took it first, that completed it.
            bool withdrawn;
            lock (current.Outstanding)
            {
                withdrawn = current.Outstanding.Withdraw(sequenceNumber);
            }

            if (withdrawn)
            {
                window.Release();
                CompleteUnwritten(pending, error);
            }

            return false;
        }

        if (!client.IsOpen && client.CloseReason is { } reason)
        {
            // The channel closed before or while we wrote; its shutdown handler may have run before we registered.
            ChannelClosed(current, reason);
        }

        return false;
    }

    /// <summary>Completes a publish that was not written: cancelled if its caller cancelled, failed otherwise.</summary>
    private void CompleteUnwritten(Pending pending, Exception error)
    {
        if (error is OperationCanceledException && pending.CancellationToken.IsCancellationRequested)
        {
            // Its caller has already seen the cancellation (WaitAsync); complete it so the pending publish is released.
            Complete(BatchOf(pending), ConfirmOutcome.Cancelled, null, releasesWindow: false);
        }
        else if (error is OperationCanceledException && closing.IsCancellationRequested)
        {
            // Aborted by DisposeAsync: failed as a publish queued after the dispose is.
            Complete(BatchOf(pending), ConfirmOutcome.Failed, new ObjectDisposedException(nameof(IMessagePublisher), "The publisher was disposed before the message was written."), releasesWindow: false);
        }
        else
        {
            Complete(BatchOf(pending), ConfirmOutcome.Failed, AmqpErrors.Map(error, AmqpErrors.Operation.Other, connection) ?? error, releasesWindow: false);
        }
    }

    private Task Settle(PublishChannel source, ulong deliveryTag, bool multiple, bool nacked)
    {
        var settled = batches.Rent();
        lock (source.Outstanding)
        {
            if (multiple)
            {
                source.Outstanding.TakeUpTo(deliveryTag, settled.Settled);
            }
            else if (source.Outstanding.TryTake(deliveryTag, out var single))
            {
                settled.Settled.Add(single!);
            }
        }

        Complete(settled, nacked ? ConfirmOutcome.Nacked : ConfirmOutcome.Acked, null, releasesWindow: true);
        return Task.CompletedTask;
    }

    private void FailOutstanding(PublishChannel source, TransportException error)
    {
        var failed = batches.Rent();
        lock (source.Outstanding)
        {
            source.Outstanding.TakeAll(failed.Settled);
        }

        Complete(failed, ConfirmOutcome.Failed, error, releasesWindow: true);
    }

    /// <summary>Frees the window at once and completes the publishes together on one work item (see the remarks above).</summary>
    private void Complete(CompletionBatch settled, ConfirmOutcome outcome, Exception? error, bool releasesWindow)
    {
        if (settled.Settled.Count == 0)
        {
            batches.Return(settled);
            return;
        }

        if (releasesWindow)
        {
            window.Release(settled.Settled.Count);
        }

        settled.Outcome = outcome;
        settled.Error = error;
        ThreadPool.UnsafeQueueUserWorkItem(settled, preferLocal: false);
    }

    private CompletionBatch BatchOf(Pending pending)
    {
        var batch = batches.Rent();
        batch.Settled.Add(pending);
        return batch;
    }

    /// <summary>
    /// One publish from <see cref="PublishAsync"/> until its caller has its result; then it goes back to the pool with its
    /// client properties and header table, which are reused by the next publish.
    /// </summary>
    private sealed class Pending(AmqpPublisher owner) : IValueTaskSource
    {
        // Completed only from a CompletionBatch work item, where continuations may run inline (see the class remarks).
        private ManualResetValueTaskSourceCore<bool> completion;
        private readonly Dictionary<string, object?> headerTable = new(StringComparer.Ordinal);

        public string Exchange { get; private set; } = string.Empty;

        public string RoutingKey { get; private set; } = string.Empty;

        public BasicProperties Properties { get; } = new();

        public ReadOnlyMemory<byte> Body { get; private set; }

        /// <summary>The caller's token: a publish cancelled before it is written is not written.</summary>
        public CancellationToken CancellationToken { get; private set; }

        public short Version => completion.Version;

        /// <summary>The caller's <see cref="Activity.Current"/>, under which the client's own publish span must start.</summary>
        public Activity? Caller { get; set; }

        public void Prepare(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, bool alwaysHeaders, TrailConversionCache trails, CancellationToken cancellationToken)
        {
            Exchange = exchange;
            RoutingKey = routingKey;
            AmqpProperties.CopyToAmqp(properties, Properties, headerTable, alwaysHeaders, trails);
            Body = body;
            CancellationToken = cancellationToken;
        }

        public void Complete(ConfirmOutcome outcome, Exception? error)
        {
            switch (outcome)
            {
                case ConfirmOutcome.Acked:
                    completion.SetResult(true);
                    break;
                case ConfirmOutcome.Cancelled:
                    completion.SetException(new OperationCanceledException(CancellationToken));
                    break;
                case ConfirmOutcome.Nacked:
                    completion.SetException(new PublishNackedException($"The broker nacked the message published to exchange '{Exchange}' with routing key '{RoutingKey}'."));
                    break;
                default:
                    completion.SetException(error!);
                    break;
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => completion.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            completion.OnCompleted(continuation, state, token, flags);

        public void GetResult(short token)
        {
            try
            {
                completion.GetResult(token);
            }
            finally
            {
                // The caller has its result and the publisher completed it: nobody refers to this publish any more.
                Body = default;
                CancellationToken = default;
                Caller = null;
                completion.Reset();
                owner.pool.Return(this);
            }
        }
    }

    /// <summary>A channel and the publishes on it that wait for their confirm.</summary>
    private sealed class PublishChannel(IChannel channel)
    {
        public IChannel Channel { get; } = channel;

        /// <summary>Locked by whoever touches it: the drain adds, the client's confirm handlers take.</summary>
        public ConfirmWindow<Pending> Outstanding { get; } = new();

        // Without confirms (see CountLostWithRefusedClaim), under the channel's lock: the first claim of another user's user_id
        // written while the probe could not tell whether it is allowed, how many were written from it on, and whether the
        // close over it counted them. TracksClaim is also read without it, by the drain, which alone sets it.
        private int tracksClaim;

        public Lock ClaimSync { get; } = new();

        public bool TracksClaim
        {
            get => Volatile.Read(ref tracksClaim) != 0;
            set => Volatile.Write(ref tracksClaim, value ? 1 : 0);
        }

        public long WrittenSinceClaim { get; set; }

        public (string UserId, string Exchange, string RoutingKey) FirstClaim { get; set; }

        public bool ClaimLossCounted { get; set; }

        /// <summary>Whether the refused claim itself was counted: by the close, or by its own write if that returned later.</summary>
        public bool RefusalCounted { get; set; }
    }

    internal enum ConfirmOutcome
    {
        Acked,
        Nacked,
        Failed,
        Cancelled,
    }

    /// <summary>
    /// Publishes settled by one confirm frame (or one channel failure, or written by one drain without confirms), completed
    /// in sequence order; back in the pool once they all are, with its list, so a confirm frame allocates nothing.
    /// </summary>
    private sealed class CompletionBatch(AmqpPublisher owner) : IThreadPoolWorkItem
    {
        public List<Pending> Settled { get; } = [];

        public ConfirmOutcome Outcome { get; set; }

        public Exception? Error { get; set; }

        public void Execute()
        {
            foreach (var pending in Settled)
            {
                pending.Complete(Outcome, Error);
            }

            Settled.Clear();
            Error = null;
            owner.batches.Return(this);
        }
    }
}
