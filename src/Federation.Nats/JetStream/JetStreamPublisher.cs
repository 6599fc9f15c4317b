using Federation.Core.Hops;
using Federation.Core.Transport;
using Federation.Nats.Transport;
using NATS.Client.Core;
using ClientHeaders = NATS.Client.Core.NatsHeaders;

namespace Federation.Nats.JetStream;

/// <summary>
/// Publishes to a JetStream downstream. With confirms, a publish completes on the stream's PubAck (a duplicate within the
/// window is confirmed too: the stream has the message), fails with <see cref="PublishNackedException"/> when the stream
/// refuses it or no stream captures the subject, and with <see cref="ConnectionLostException"/> when the outcome is unknown.
/// A duplicate PubAck for a message whose <c>Nats-Msg-Id</c> is a producer's own is confirmed too, and reported to
/// <see cref="PublisherOptions.Dropped"/> (see <see cref="JetStreamPubAckInbox"/>).
/// Without confirms, messages are published on core NATS and the stream still captures them (an exchange only exclusive
/// queues read gets no stream for them: see <see cref="JetStreamBrokerConnection.NeedsNoStream"/>).
/// </summary>
/// <remarks>
/// <para>Messages are written in call order although the PubAcks are awaited in parallel (pipelining): each publish is
/// written only after the previous one was, and the first publish to an exchange waits until its stream exists. The
/// PubAcks come back on one reply subscription (<see cref="JetStreamPubAckInbox"/>).</para>
/// <para>One header object serves every publish that the client writes at once (the usual case); a publish that has to
/// wait for the client keeps its own.</para>
/// </remarks>
internal sealed class JetStreamPublisher : IMessagePublisher
{
    // What an unconfirmed publish to an exchange that needs no stream waits for (see JetStreamBrokerConnection.NeedsNoStream).
    private static readonly Task<string> NoStream = Task.FromResult(string.Empty);

    private readonly JetStreamBrokerConnection _connection;
    private readonly INatsConnection _client;
    private readonly JetStreamPubAckInbox? _inbox;
    private ClientHeaders _headers = [];
    private Task _written = Task.CompletedTask;

    /// <param name="connection">The JetStream connection (streams, display URI).</param>
    /// <param name="client">The official client's connection to the downstream.</param>
    /// <param name="inbox">Where PubAcks arrive; null for a publisher without confirms.</param>
    public JetStreamPublisher(JetStreamBrokerConnection connection, INatsConnection client, JetStreamPubAckInbox? inbox)
    {
        _connection = connection;
        _client = client;
        _inbox = inbox;
    }

    public ValueTask PublishAsync(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(properties);
        cancellationToken.ThrowIfCancellationRequested();
        var subject = NatsSubjectMapping.PublishSubject(exchange, routingKey);
        var headers = JetStreamHeaders.WriteClientHeaders(properties, _headers);
        if (_inbox is null)
        {
            var stream = _connection.NeedsNoStream(exchange) ? NoStream : _connection.StreamForPublishAsync(exchange);
            KeepHeaders(headers);
            var sent = WriteCoreAfterAsync(_written, stream, subject, headers, body, cancellationToken);
            _written = sent;
            return new ValueTask(sent);
        }

        var producerId = ProducerMessageId(properties);
        var captured = _connection.StreamForPublishAsync(exchange);
        if (!captured.IsCompletedSuccessfully || !_written.IsCompleted)
        {
            KeepHeaders(headers);
            var chained = WriteAfterAsync(_written, captured, subject, producerId, headers, body, cancellationToken);
            _written = chained;
            return new ValueTask(AwaitPubAckAsync(chained, cancellationToken));
        }

        var pending = _inbox.Register(subject, producerId, out var replyTo);
        var writing = Write(subject, body, headers, replyTo, cancellationToken);
        if (writing.IsCompletedSuccessfully)
        {
            writing.GetAwaiter().GetResult();
            return new ValueTask(cancellationToken.CanBeCanceled ? pending.Task.WaitAsync(cancellationToken) : pending.Task);
        }

        // The client holds the message (and its headers) until it has room: later publishes wait their turn, with headers of their own.
        KeepHeaders(headers);
        var written = WrittenAsync(writing, pending, subject);
        _written = written;
        return new ValueTask(AwaitPubAckAsync(written, cancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        if (_inbox is not null)
        {
            await _inbox.CloseAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The reused header object now belongs to a write that has not happened yet: take a fresh one for the next publish.</summary>
    private void KeepHeaders(ClientHeaders? used)
    {
        if (ReferenceEquals(used, _headers))
        {
            _headers = [];
        }
    }

    /// <summary>Writes after the previous publish and once the stream exists; completes when written, with the publish's pending PubAck.</summary>
    private async Task<PendingPubAck> WriteAfterAsync(Task previous, Task<string> stream, string subject, string? producerId, ClientHeaders? headers, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await stream.WaitAsync(cancellationToken).ConfigureAwait(false);
        var pending = _inbox!.Register(subject, producerId, out var replyTo);
        return await WrittenAsync(Write(subject, body, headers, replyTo, cancellationToken), pending, subject).ConfigureAwait(false);
    }

    /// <summary>Hands one confirmed publish to the client; a synchronous failure comes back as a faulted write.</summary>
    private ValueTask Write(string subject, ReadOnlyMemory<byte> body, ClientHeaders? headers, string replyTo, CancellationToken cancellationToken)
    {
        try
        {
            return _client.PublishAsync(subject, body, headers, replyTo, NatsRawSerializer<ReadOnlyMemory<byte>>.Default, opts: null, cancellationToken);
        }
        catch (Exception ex)
        {
            return ValueTask.FromException(ex);
        }
    }

    private async Task WriteCoreAfterAsync(Task previous, Task<string> stream, string subject, ClientHeaders? headers, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        try
        {
            await stream.WaitAsync(cancellationToken).ConfigureAwait(false);
            await _client.PublishAsync(subject, body, headers, replyTo: null, NatsRawSerializer<ReadOnlyMemory<byte>>.Default, opts: null, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw ToPublishFailure(ex, subject);
        }
    }

    /// <summary>
    /// Completes with <paramref name="pending"/> when the client has written the message (the next publish waits for this,
    /// not for the PubAck); a failed write forgets the pending PubAck and fails as the transport's exception.
    /// </summary>
    private async Task<PendingPubAck> WrittenAsync(ValueTask writing, PendingPubAck pending, string subject)
    {
        try
        {
            await writing.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _inbox!.Forget(pending);
            if (ex is OperationCanceledException)
            {
                throw;
            }

            throw ToPublishFailure(ex, subject);
        }

        return pending;
    }

    // A cancelled wait leaves the entry registered: its PubAck, the timeout or the close clears it.
    private static async Task AwaitPubAckAsync(Task<PendingPubAck> written, CancellationToken cancellationToken)
    {
        var pending = await written.ConfigureAwait(false);
        await pending.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The message's <c>Nats-Msg-Id</c> when a producer set it (or the AMQP <c>message-id</c> it gets as one), rather than a
    /// link (<see cref="JetStreamMessageIdentity.IsLinkBuilt"/>), and the upstream did not flag this delivery as redelivered;
    /// null otherwise. Only for such an id does a duplicate PubAck report a drop: a duplicate of a redelivery is that same
    /// message, which the stream already holds (after a crash, a link restart, a PubAck that came too late), as for an id a
    /// link made, and reporting it as a possible loss would raise a warning after every fault.
    /// </summary>
    private static string? ProducerMessageId(MessageProperties properties)
    {
        // Spelled exactly: nats-server (2.9.10) deduplicates by this header name only, case-sensitively.
        var id = JetStreamHeaders.MessageIdOf(properties);
        return string.IsNullOrEmpty(id) || JetStreamMessageIdentity.IsLinkBuilt(id) || HopRules.NewestHopRedelivered(properties.Headers) ? null : id;
    }

    private Exception ToPublishFailure(Exception ex, string subject) => ex switch
    {
        TransportException => ex,
        NatsPayloadTooLargeException => new MessageRefusedException(Transport.NatsErrorText.Message(ex, _client.Opts), Transport.NatsErrorText.SafeInner(ex, _client.Opts)),
        NatsException => new ConnectionLostException($"Publishing to JetStream on {_connection.DisplayUri} failed (the outcome is unknown): {Transport.NatsErrorText.Message(ex, _client.Opts)}", Transport.NatsErrorText.SafeInner(ex, _client.Opts)),
        _ => ex,
    };
}
