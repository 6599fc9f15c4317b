using Federation.Core.Transport;
using Federation.Nats.Transport;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Federation.Nats.JetStream;

/// <summary>
/// Consumes a <see cref="JetStreamQueue"/>: pulls from its durable consumer (explicit ack), hands matching messages to the
/// handler one at a time in stream order, and acknowledges them only when the engine acks (after the downstream confirmed).
/// </summary>
/// <remarks>
/// <para>Messages of the exchange that no binding routes to the queue (the bindings filter on the client; nats-server 2.9
/// ignores plural filter subjects) are acknowledged at once and not delivered.</para>
/// <para>Every delivery carries a stable identity in <c>Nats-Msg-Id</c>: the producer's own, or else one made of the
/// upstream, the stream, the stream sequence and the time the stream stored the message (see
/// <see cref="JetStreamMessageIdentity"/>), so that a JetStream downstream drops a redelivery within its duplicate window,
/// across any number of hops, and never a new message of a re-created stream that reuses a sequence.</para>
/// <para>The delivery tag is this consumer's own counter; an ack with <c>multiple</c> acks each message up to the tag. At most
/// <see cref="ConsumerOptions.Prefetch"/> deliveries are unacknowledged. On disposal, unacknowledged deliveries, the message
/// held waiting for room among them and whatever the last pull still brought are nak'ed, in stream order, so that the next
/// consumer gets them at once rather than after the ack wait. It pulls with fetches, not the client's consume, so that a
/// stop can read its last pull to the end (see <see cref="RunAsync"/>).</para>
/// </remarks>
internal sealed class JetStreamQueueConsumer : IMessageConsumer
{
    private const int UnlimitedPull = 1000;
    private static readonly TimeSpan NakTimeout = TimeSpan.FromSeconds(2);

    /// <summary>How long a consumer deleted under the link waits before it fails (see <see cref="RunAsync"/>).</summary>
    private static readonly TimeSpan ConsumerDeletedSettle = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long one pull waits for messages. Short, because a stop waits for the current pull to end (see <see cref="RunAsync"/>);
    /// an idle link makes one pull a period.
    /// </summary>
    private static readonly TimeSpan FetchExpires = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The server's heartbeat interval on a waiting pull (at most half of <see cref="FetchExpires"/>, as the client
    /// requires); the client reports a timeout after two missed ones. Missing heartbeats are how a consumer deleted between
    /// two pulls shows (see <see cref="CheckStillThereAsync"/>).
    /// </summary>
    private static readonly TimeSpan IdleHeartbeat = TimeSpan.FromMilliseconds(500);

    private readonly JetStreamQueue _queue;
    private readonly ConsumerOptions _options;
    private readonly DeliveryHandler _handler;
    private readonly string _displayUri;
    private readonly NatsOpts? _auth;
    private readonly CancellationTokenSource _stop;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim? _window;
    private readonly Lock _lock = new();
    private readonly SortedDictionary<ulong, INatsJSMsg<byte[]>> _unacked = [];

    /// <summary>Taken from the client but never handed on, when the consumer stopped (see <see cref="RunAsync"/>).</summary>
    private readonly List<INatsJSMsg<byte[]>> _returned = [];
    private readonly Task _loop;
    private readonly Task _keeper;
    private ulong _tag;
    private JetStreamAckFloor? _floor;

    public JetStreamQueueConsumer(JetStreamQueue queue, ConsumerOptions options, DeliveryHandler handler, string displayUri, NatsOpts? auth, Task connectionCompletion, JetStreamConsumerMinimums? minimums = null)
    {
        _auth = auth;
        _queue = queue;
        _options = options;
        _handler = handler;
        _displayUri = displayUri;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(queue.Deleted);
        _window = options.AutoAck || options.Prefetch <= 0 ? null : new SemaphoreSlim(options.Prefetch, options.Prefetch);
        _loop = Task.Run(RunAsync);
        _keeper = minimums is not null && !options.AutoAck
            ? Task.Run(() => KeepMinimumsAsync(minimums))
            : Task.CompletedTask;
        _ = connectionCompletion.ContinueWith(
            t => { if (t.IsFaulted) { _completion.TrySetException(t.Exception!.InnerExceptions); } },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    public Task Completion => _completion.Task;

    public async ValueTask AckAsync(ulong deliveryTag, bool multiple, CancellationToken cancellationToken)
    {
        foreach (var message in Take(deliveryTag, multiple))
        {
            try
            {
                await message.AckAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                Settled(message);
            }
            catch (NatsException ex)
            {
                throw new ConnectionLostException($"Acknowledging on JetStream at {_displayUri} failed: {Transport.NatsErrorText.Message(ex, _auth)}", Transport.NatsErrorText.SafeInner(ex, _auth));
            }
        }
    }

    public async ValueTask NackAsync(ulong deliveryTag, bool multiple, bool requeue, CancellationToken cancellationToken)
    {
        foreach (var message in Take(deliveryTag, multiple))
        {
            try
            {
                if (requeue)
                {
                    await message.NakAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await message.AckTerminateAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                    Settled(message);
                }
            }
            catch (NatsException ex)
            {
                throw new ConnectionLostException($"Rejecting on JetStream at {_displayUri} failed: {Transport.NatsErrorText.Message(ex, _auth)}", Transport.NatsErrorText.SafeInner(ex, _auth));
            }
        }
    }

    private static readonly TimeSpan LoopStopTimeout = TimeSpan.FromSeconds(5);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            // Bounded: when the connection died under it, the client's pull loop waits for a reconnect that never comes
            // (the connection is being disposed), and the consume's dispose waits for that loop. The link must still stop;
            // what was not acknowledged comes back after the ack wait.
            await _loop.WaitAsync(LoopStopTimeout).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (TimeoutException)
        {
        }

        try
        {
            // Before the token source goes: the keeper's calls use its token.
            await _keeper.WaitAsync(LoopStopTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        // What the engine did not acknowledge goes back now; if the connection is gone, the server redelivers it after the ack wait.
        // After the consume ended, so that none of them is redelivered to it; in stream order, as the next consumer should get them.
        List<INatsJSMsg<byte[]>> returned;
        lock (_lock)
        {
            returned = [.. _returned];
            _returned.Clear();
        }

        using var timeout = new CancellationTokenSource(NakTimeout);
        foreach (var message in Take(ulong.MaxValue, multiple: true).Concat(returned).OrderBy(m => m.Metadata?.Sequence.Stream ?? 0))
        {
            try
            {
                await message.NakAsync(cancellationToken: timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NatsException or OperationCanceledException)
            {
                break;
            }
        }

        _completion.TrySetResult();
        _stop.Dispose();
        _window?.Dispose();
    }

    private List<INatsJSMsg<byte[]>> Take(ulong deliveryTag, bool multiple)
    {
        var taken = new List<INatsJSMsg<byte[]>>();
        lock (_lock)
        {
            if (multiple)
            {
                foreach (var (tag, message) in _unacked)
                {
                    if (tag > deliveryTag)
                    {
                        break;
                    }

                    taken.Add(message);
                }

                for (var i = 0; i < taken.Count; i++)
                {
                    _unacked.Remove(_unacked.Keys.First());
                }
            }
            else if (_unacked.Remove(deliveryTag, out var message))
            {
                taken.Add(message);
            }
        }

        if (taken.Count > 0 && _window is not null && !_stop.IsCancellationRequested)
        {
            try
            {
                _window.Release(taken.Count);
            }
            catch (ObjectDisposedException)
            {
                // A late ack while the consumer is being disposed: nobody waits for room any more.
            }
        }

        return taken;
    }

    private async Task RunAsync()
    {
        var token = _stop.Token;
        try
        {
            var attachment = await _queue.Attached.WaitAsync(token).ConfigureAwait(false);
            var exchange = attachment.Exchange;
            Volatile.Write(ref _floor, attachment.Floor);
            // Pulls that end on their own (a fetch ends when its batch is full or after FetchExpires), not the client's
            // consume: a consume can only be cancelled, and that dropped unseen what it had pulled and not yet handed over,
            // neither acknowledged nor nak'ed, so the server gave it back only after the ack wait, out of order. On a
            // stop, no new pull is made and the current one is read to its end: what it brings goes back (DisposeAsync).
            var fetch = new NatsJSFetchOpts
            {
                MaxMsgs = _options.Prefetch > 0 ? _options.Prefetch : UnlimitedPull,
                Expires = FetchExpires,
                IdleHeartbeat = IdleHeartbeat,
                NotificationHandler = (notification, _) => notification is NatsJSTimeoutNotification ? CheckStillThereAsync(attachment) : Task.CompletedTask,
            };
            while (!token.IsCancellationRequested)
            {
                await foreach (var message in attachment.Consumer.FetchAsync(fetch, NatsRawSerializer<byte[]>.Default, CancellationToken.None).ConfigureAwait(false))
                {
                    if (token.IsCancellationRequested)
                    {
                        Return(message);
                        continue;
                    }

                    try
                    {
                        await TakeOnAsync(message, attachment, exchange, token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (token.IsCancellationRequested)
                    {
                        // Stopped in the handler (the delivery is in _unacked) or waiting for room (TakeOnAsync returned it).
                    }
                }
            }

            token.ThrowIfCancellationRequested();
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            if (_queue.Deleted.IsCancellationRequested)
            {
                _completion.TrySetException(new ResourceNotFoundException($"Queue '{_queue.Name}' was deleted."));
            }
        }
        catch (NatsJSProtocolException ex) when (IsConsumerDeleted(ex))
        {
            // The consumer, or its whole stream, was deleted. nats-server (2.9) tells the pull "Consumer Deleted" while it is
            // still deleting the stream: it stops the stream's consumers one by one and removes the stream's directory last.
            // The link's next attempt creates the stream and the consumer again under the same names, so the same
            // directory; made in that window, the old deletion wipes their files, and the new consumer then counts the new
            // messages pending but can load none of them: it never delivers, while its heartbeats keep the pull alive.
            // The server offers no way to see the deletion finish, so the failure is reported only after a pause far longer
            // than a deletion takes.
            try
            {
                await Task.Delay(ConsumerDeletedSettle, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopping (or the queue deleted): no next attempt to hold back.
            }

            _completion.TrySetException(JetStreamErrors.Map(ex, $"consume with '{_queue.ConsumerName}'", _displayUri, _auth));
        }
        catch (Exception ex)
        {
            _completion.TrySetException(JetStreamErrors.Map(ex, $"consume with '{_queue.ConsumerName}'", _displayUri, _auth));
        }
    }

    /// <summary>Takes on one message the client handed over: settles it at once, or hands it to the handler.</summary>
    private async Task TakeOnAsync(INatsJSMsg<byte[]> message, JetStreamAttachment attachment, string exchange, CancellationToken token)
    {
        // Taken on: until it is settled, a consumer created again after a deletion must start at it (or before).
        if (message.Metadata is { } taken)
        {
            attachment.Floor.Delivered(taken.Sequence.Stream);
        }

        if (!NatsSubjectMapping.TryGetRoutingKey(exchange, message.Subject, out var routingKey) || !_queue.Routes(exchange, routingKey))
        {
            // Captured by the stream, but no binding of this queue wants it (as an AMQP queue would never have got it).
            await message.AckAsync(cancellationToken: token).ConfigureAwait(false);
            Settled(message);
            TakenThrough(message);
            return;
        }

        // Mapped before the message is taken on: one whose headers cannot be mapped is settled here, as a drop,
        // and never becomes a delivery the engine would have to settle (or one held unacknowledged for good).
        if (!TryMap(message, exchange, routingKey, out var properties))
        {
            await message.AckTerminateAsync(cancellationToken: token).ConfigureAwait(false);
            Settled(message);
            TakenThrough(message);
            return;
        }

        ulong tag;
        if (_options.AutoAck)
        {
            await message.AckAsync(cancellationToken: token).ConfigureAwait(false);
            Settled(message);
            tag = ++_tag;
        }
        else
        {
            if (_window is not null)
            {
                try
                {
                    await _window.WaitAsync(token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Stopped while it waited for room: neither handed on nor in _unacked, it goes back with the rest.
                    Return(message);
                    throw;
                }
            }

            tag = ++_tag;
            lock (_lock)
            {
                _unacked.Add(tag, message);
            }
        }

        var metadata = message.Metadata;
        if (metadata is { } known && !HasMessageId(properties))
        {
            (properties.Headers ??= new Dictionary<string, object?>(StringComparer.Ordinal))[JetStreamHeaders.MessageId] =
                JetStreamMessageIdentity.Of(attachment.Upstream, known, message.ReplyTo);
        }

        var delivery = new Delivery(tag, metadata?.NumDelivered > 1, exchange, routingKey, properties, message.Data ?? []);
        await _handler(delivery, token).ConfigureAwait(false);
        TakenThrough(message);
    }

    /// <summary>Records the stream sequence of a message handed on or settled at once, for <see cref="CatchUpAsync"/>.</summary>
    private void TakenThrough(INatsJSMsg<byte[]> message)
    {
        var sequence = (long)(message.Metadata?.Sequence.Stream ?? 0);
        if (sequence > Interlocked.Read(ref _takenThrough))
        {
            Interlocked.Exchange(ref _takenThrough, sequence);
        }
    }

    // The highest stream sequence this consumer handed on or settled at once (one loop writes it).
    private long _takenThrough;

    private static readonly TimeSpan CatchUpPoll = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Waits until this consumer has taken on every message the stream held past the durable consumer's delivered position
    /// when called (its delivered stream sequence plus its pending count: the consumer has no filter subject). A switch to
    /// core NATS calls it once the core subscriptions are in place, so that what was published before them reaches the
    /// link through this consumer rather than being deleted with it.
    /// </summary>
    public async ValueTask CatchUpAsync(CancellationToken cancellationToken)
    {
        if (!_queue.Attached.IsCompletedSuccessfully)
        {
            return;
        }

        var consumer = _queue.Attached.Result.Consumer;
        try
        {
            await consumer.RefreshAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or NatsJSApiException)
        {
            return;
        }

        var target = (long)((consumer.Info.Delivered?.StreamSeq ?? 0) + consumer.Info.NumPending);
        while (Interlocked.Read(ref _takenThrough) < target && !_completion.Task.IsCompleted && !_stop.IsCancellationRequested)
        {
            await Task.Delay(CatchUpPoll, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Keeps a message taken from the client but not handed on, for <see cref="DisposeAsync"/> to nak.</summary>
    private void Return(INatsJSMsg<byte[]> message)
    {
        lock (_lock)
        {
            _returned.Add(message);
        }
    }

    /// <summary>
    /// Maps a message's headers. One that cannot be mapped is that message's fault: failing the consumer over it would
    /// restart the link and get it redelivered first, for ever; it is counted as dropped and terminated instead.
    /// </summary>
    /// <remarks>
    /// A stream stores any header block a publisher sent (nats-server checks only the <c>NATS/1.0</c> prefix). One the
    /// client cannot parse (a line without a colon, bare LF line ends) does not fail the fetch: the client hands the
    /// message over with <see cref="INatsJSMsg{T}.Error"/> set and neither headers nor body, which would have crossed as an
    /// empty message without its headers. It is unreadable, as on a core NATS upstream.
    /// </remarks>
    private bool TryMap(INatsJSMsg<byte[]> message, string exchange, string routingKey, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MessageProperties? properties)
    {
        if (message.Error is { } unreadable)
        {
            properties = null;
            _options.Dropped?.Invoke(NatsBrokerConnection.UnreadableReason, 1,
                $"a message for '{exchange}' with routing key '{routingKey}' (stream sequence {StreamSequence(message)}) cannot be read: the client could not parse it ({unreadable.GetType().Name}: {unreadable.Message}); terminated on JetStream");
            return false;
        }

        try
        {
            properties = JetStreamHeaders.ToProperties(message.Headers);
            return true;
        }
#pragma warning disable CA1031 // Whatever the mapping throws is about this message only.
        catch (Exception error)
#pragma warning restore CA1031
        {
            properties = null;
            _options.Dropped?.Invoke(NatsBrokerConnection.UnreadableReason, 1,
                $"the headers of a message for '{exchange}' with routing key '{routingKey}' (stream sequence {StreamSequence(message)}) cannot be mapped ({error.GetType().Name}: {error.Message}); terminated on JetStream");
            return false;
        }
    }

    private static string StreamSequence(INatsJSMsg<byte[]> message) =>
        message.Metadata?.Sequence.Stream.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown";

    /// <summary>
    /// After missed heartbeats (an idle pull): fails the consumer when its durable consumer is gone. nats-server 2.9 tells a waiting pull
    /// "409 Consumer Deleted", but a consumer deleted while no pull waited gets the next pulls swallowed (the JetStream API
    /// subscription takes them and answers nothing), and the link would show running, for ever, while it forwards nothing.
    /// </summary>
    private async Task CheckStillThereAsync(JetStreamAttachment attachment)
    {
        try
        {
            await attachment.Consumer.RefreshAsync(_stop.Token).ConfigureAwait(false);

            // The server's ack floor is always safe to take, and settles what was delivered before this process looked.
            attachment.Floor.Attached(attachment.Consumer.Info.AckFloor?.StreamSeq ?? 0);
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == JetStreamErrors.NotFound)
        {
            // The stream may be the one deleted, and its files still going: the same pause as after a 409 (see RunAsync).
            try
            {
                await Task.Delay(ConsumerDeletedSettle, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception wait) when (wait is OperationCanceledException or ObjectDisposedException)
            {
                return; // stopping anyway
            }

            _completion.TrySetException(new ConnectionLostException($"The JetStream consumer '{_queue.ConsumerName}' of stream '{attachment.Stream}' on {_displayUri} was deleted: {Transport.NatsErrorText.Scrub(ex.Error.Description, _auth)}.", Transport.NatsErrorText.SafeInner(ex, _auth)));
            try
            {
                // Not awaited: stopping the consume waits for this very notification handler.
                _ = _stop.CancelAsync();
            }
            catch (ObjectDisposedException)
            {
                // Disposed meanwhile: stopped anyway.
            }
        }
#pragma warning disable CA1031 // Any other failure says nothing about the consumer: the connection's own failure is reported elsewhere.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>
    /// While this consumer runs, keeps the durable consumer's ack wait at least at this link's and its <c>max_ack_pending</c> at
    /// least at this queue's prefetch: another instance's write, made from what it read before this one raised them, may
    /// have lowered them (see <see cref="JetStreamConsumerMinimums"/>).
    /// </summary>
    private async Task KeepMinimumsAsync(JetStreamConsumerMinimums minimums)
    {
        var token = _stop.Token;
        try
        {
            var attachment = await _queue.Attached.WaitAsync(token).ConfigureAwait(false);
            await minimums.KeepAsync(_queue, attachment, token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Stopped, or the queue deleted before it was attached: the consume loop reports what matters.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>Tells the floor that a message was acknowledged or terminated (see <see cref="JetStreamAckFloor"/>).</summary>
    private void Settled(INatsJSMsg<byte[]> message)
    {
        if (message.Metadata is { } settled)
        {
            Volatile.Read(ref _floor)?.Settled(settled.Sequence.Stream);
        }
    }

    private static bool IsConsumerDeleted(NatsJSProtocolException exception) =>
        exception.HeaderCode == 409 && exception.HeaderMessage == NatsHeaders.Messages.ConsumerDeleted;

    private static bool HasMessageId(MessageProperties properties) =>
        properties.Headers is { } headers && headers.Keys.Any(k => k.Equals(JetStreamHeaders.MessageId, StringComparison.OrdinalIgnoreCase));
}
