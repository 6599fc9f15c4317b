using System.Buffers;
using System.Globalization;
using Federation.Core.Transport;
using NATS.Client.Core;

namespace Federation.Nats.JetStream;

/// <summary>
/// One wildcard reply subscription (<c>&lt;inbox&gt;.*</c>) for every confirmed publish of a <see cref="JetStreamPublisher"/>,
/// as nats.go's asynchronous JetStream publish does. Each publish takes the next reply subject and a pending entry, which the
/// PubAck completes on the client's read loop.
/// </summary>
/// <remarks>
/// <para>Why not <c>INatsJSContext.PublishConcurrentAsync</c>: it opens a reply subscription per message (a subscription
/// object, its channel, and a <c>ConditionalWeakTable</c> with a finalizer in the client's inbox router). Under a
/// saturated durable link that cost more than everything else in the link process, the finalizer thread alone about a
/// third of its CPU.</para>
/// <para>A publish with no reply within the JetStream request timeout fails with <see cref="ConnectionLostException"/> (the
/// outcome is unknown: the engine reconnects and redelivers, and <c>Nats-Msg-Id</c> makes the stream drop what it already
/// has), as does every pending publish when the inbox closes.</para>
/// </remarks>
internal sealed class JetStreamPubAckInbox : NatsSubBase
{
    private readonly string _prefix;
    private readonly string _displayUri;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly ITimer _sweep;
    private readonly Lock _lock = new();
    private readonly Dictionary<long, PendingPubAck> _pending = [];
    private readonly Action? _onNoStream;
    private readonly MessageDropHandler? _dropped;
    private long _next;
    private bool _closed;

    private JetStreamPubAckInbox(NatsConnection client, string inbox, string displayUri, TimeSpan timeout, TimeProvider time, Action? onNoStream, MessageDropHandler? dropped)
        : base(client, client.SubscriptionManager, inbox + ".*", queueGroup: null, opts: null)
    {
        _onNoStream = onNoStream;
        _dropped = dropped;
        _prefix = inbox + ".";
        _displayUri = displayUri;
        _timeout = timeout;
        _time = time;
        var period = TimeSpan.FromTicks(Math.Max(timeout.Ticks / 4, TimeSpan.FromMilliseconds(50).Ticks));
        _sweep = time.CreateTimer(static state => ((JetStreamPubAckInbox)state!).FailOverdue(), this, period, period);
    }

    /// <summary>Subscribes a new inbox on <paramref name="client"/>.</summary>
    /// <param name="client">The official client's connection.</param>
    /// <param name="displayUri">The redacted URI, for messages.</param>
    /// <param name="timeout">How long a publish waits for its PubAck.</param>
    /// <param name="time">The clock of that timeout.</param>
    /// <param name="onNoStream">Called when a reply says that no stream captures a subject (the stream was deleted); may be null.</param>
    /// <param name="dropped">Told of each message with a producer's <c>Nats-Msg-Id</c> that the stream dropped as a duplicate; may be null.</param>
    /// <param name="cancellationToken">Cancels subscribing.</param>
    public static async ValueTask<JetStreamPubAckInbox> OpenAsync(NatsConnection client, string displayUri, TimeSpan timeout, TimeProvider time, Action? onNoStream, MessageDropHandler? dropped, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        // Under the configured inbox prefix (what permissions allow), but not under the connection's own inbox
        // (client.NewInbox()): the client routes that by exact subject to its request multiplexer, never to a wildcard.
        var inbox = new JetStreamPubAckInbox(client, $"{client.Opts.InboxPrefix}.{Guid.NewGuid():N}", displayUri, timeout, time, onNoStream, dropped);
        try
        {
            await client.AddSubAsync(inbox, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await inbox.CloseAsync().ConfigureAwait(false);
            if (ex is NatsException or ObjectDisposedException)
            {
                throw new ConnectionLostException($"Subscribing to the PubAck inbox on {displayUri} failed: {Transport.NatsErrorText.Message(ex, client.Opts)}", Transport.NatsErrorText.SafeInner(ex, client.Opts));
            }

            throw;
        }

        return inbox;
    }

    /// <summary>Publishes still waiting for their PubAck.</summary>
    public int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Takes a reply subject for one publish to <paramref name="subject"/>; the returned entry completes with its PubAck.</summary>
    /// <param name="subject">The subject published to.</param>
    /// <param name="producerMessageId">The message's <c>Nats-Msg-Id</c> when it is a producer's own (see <see cref="PendingPubAck.ProducerMessageId"/>).</param>
    /// <param name="replyTo">The reply subject to publish with.</param>
    /// <exception cref="ConnectionLostException">The inbox is closed.</exception>
    public PendingPubAck Register(string subject, string? producerMessageId, out string replyTo)
    {
        var pending = new PendingPubAck(subject, _time.GetTimestamp(), producerMessageId);
        long id;
        lock (_lock)
        {
            if (_closed)
            {
                throw new ConnectionLostException($"The JetStream publisher on {_displayUri} is closed.");
            }

            id = ++_next;
            pending.Id = id;
            _pending.Add(id, pending);
        }

        replyTo = string.Create(CultureInfo.InvariantCulture, $"{_prefix}{id}");
        return pending;
    }

    /// <summary>Forgets a publish that was never written (its write failed): no PubAck will come for it.</summary>
    public void Forget(PendingPubAck pending)
    {
        ArgumentNullException.ThrowIfNull(pending);
        lock (_lock)
        {
            _pending.Remove(pending.Id);
        }

        // Nobody will await it: the caller reports the write's failure instead. If a close or the sweep failed it
        // meanwhile, observe that failure so it does not surface as an unobserved task exception.
        if (!pending.TrySetCanceled())
        {
            _ = pending.Task.Exception;
        }
    }

    /// <summary>Fails every pending publish with <see cref="ConnectionLostException"/>, refuses new ones, and unsubscribes.</summary>
    public async ValueTask CloseAsync()
    {
        FailAll(static (uri, subject) => $"The JetStream publisher on {uri} closed before the stream confirmed a message on '{subject}' (the outcome is unknown).");
        await _sweep.DisposeAsync().ConfigureAwait(false);
        await DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override ValueTask ReceiveInternalAsync(string subject, string? replyTo, ReadOnlySequence<byte>? headersBuffer, ReadOnlySequence<byte> payloadBuffer)
    {
        if (!subject.StartsWith(_prefix, StringComparison.Ordinal)
            || !long.TryParse(subject.AsSpan(_prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            return ValueTask.CompletedTask;
        }

        PendingPubAck? pending;
        lock (_lock)
        {
            _pending.Remove(id, out pending);
        }

        // A reply for a publish already timed out or forgotten: its outcome was reported as unknown, and nothing waits.
        // Reading never throws (an exception here would end on the client's read loop with the entry already taken).
        var reply = JetStreamPubAck.Read(headersBuffer, payloadBuffer);
        if (reply.Kind == JetStreamPubAckKind.NoResponders)
        {
            // The stream that was ensured is gone: the next publish looks for it again (and creates the link's own).
            _onNoStream?.Invoke();
        }
        else if (reply.Duplicate && pending?.ProducerMessageId is { } producerId)
        {
            ReportDuplicate(pending, producerId, reply.Sequence);
        }

        pending?.Settle(reply, _displayUri);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// A message with a producer's <c>Nats-Msg-Id</c> that the stream did not store, since it held one with that id: counted
    /// as dropped. It is confirmed all the same (the link acknowledges it upstream: sending it again would be dropped
    /// again), so without the count a different message whose producer reused the id (producers at two upstream sites
    /// numbering alike, say) would vanish unseen. A duplicate of an id a link made is a redelivery of the message the
    /// stream holds, the duplicate window at work, and is not reported.
    /// </summary>
    private void ReportDuplicate(PendingPubAck pending, string producerId, ulong? sequence)
    {
        if (_dropped is not { } dropped)
        {
            return;
        }

        var held = sequence is { } seq ? string.Create(CultureInfo.InvariantCulture, $" (stream sequence {seq})") : "";
        dropped(DuplicateReason, 1, $"the JetStream stream on {_displayUri} already held a message with the Nats-Msg-Id '{Printable(producerId)}'{held} and dropped the one published to '{pending.Subject}' as its duplicate: either a redelivery of that same message, or a different message whose producer reused the id (within the stream's duplicate window), which is then lost");
    }

    /// <summary>The id as a log shows it: one line (an id from an AMQP header may hold any character), at most 200 characters.</summary>
    private static string Printable(string id)
    {
        const int Max = 200;
        var shown = id.Length > Max ? id[..Max] + "..." : id;
        return shown.Any(char.IsControl) ? new string([.. shown.Select(c => char.IsControl(c) ? '?' : c)]) : shown;
    }

    /// <summary>The drop reason of a message the downstream stream dropped as a duplicate of another with its producer's <c>Nats-Msg-Id</c>.</summary>
    internal const string DuplicateReason = "downstream_duplicate";

    /// <inheritdoc />
    protected override void TryComplete()
    {
        FailAll(static (uri, subject) => $"The connection to {uri} ended before the stream confirmed a message on '{subject}' (the outcome is unknown).");
        _sweep.Dispose();
    }

    private void FailOverdue()
    {
        var now = _time.GetTimestamp();
        List<PendingPubAck>? overdue = null;
        lock (_lock)
        {
            foreach (var pending in _pending.Values)
            {
                if (_time.GetElapsedTime(pending.WrittenAt, now) >= _timeout)
                {
                    (overdue ??= []).Add(pending);
                }
            }

            if (overdue is not null)
            {
                foreach (var pending in overdue)
                {
                    _pending.Remove(pending.Id);
                }
            }
        }

        if (overdue is not null)
        {
            foreach (var pending in overdue)
            {
                pending.TrySetException(new ConnectionLostException(
                    $"Publishing to JetStream on {_displayUri} failed (the outcome is unknown): no PubAck for a message on '{pending.Subject}' within {_timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s."));
            }
        }
    }

    private void FailAll(Func<string, string, string> describe)
    {
        PendingPubAck[] all;
        lock (_lock)
        {
            _closed = true;
            all = [.. _pending.Values];
            _pending.Clear();
        }

        foreach (var pending in all)
        {
            pending.TrySetException(new ConnectionLostException(describe(_displayUri, pending.Subject)));
        }
    }
}
