using Federation.Core.Transport;
using Federation.Nats.Transport;
using NATS.Client.Core;
using NATS.Client.JetStream;
using ClientHeaders = NATS.Client.Core.NatsHeaders;

namespace Federation.Nats.JetStream;

/// <summary>
/// Publishes to a JetStream downstream. With confirms, a publish completes on the stream's PubAck (a duplicate within the
/// window is confirmed too: the stream has the message), fails with <see cref="PublishNackedException"/> when the stream
/// refuses it or no stream captures the subject, and with <see cref="ConnectionLostException"/> when the outcome is unknown.
/// Without confirms, messages are published on core NATS and the stream still captures them (an exchange only exclusive
/// queues read gets no stream for them: see <see cref="JetStreamBrokerConnection.NeedsNoStream"/>).
/// </summary>
/// <remarks>
/// Messages are written in call order although the PubAcks are awaited in parallel (pipelining): each publish is written
/// only after the previous one was, and the first publish to an exchange waits until its stream exists.
/// </remarks>
internal sealed class JetStreamPublisher(JetStreamBrokerConnection connection, INatsJSContext js, INatsConnection client, bool confirms) : IMessagePublisher
{
    // What an unconfirmed publish to an exchange that needs no stream waits for (see JetStreamBrokerConnection.NeedsNoStream).
    private static readonly Task<string> NoStream = Task.FromResult(string.Empty);
    private Task _written = Task.CompletedTask;

    public ValueTask PublishAsync(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(properties);
        var subject = NatsSubjectMapping.PublishSubject(exchange, routingKey);
        var headers = JetStreamHeaders.ToClientHeaders(properties);
        if (!confirms)
        {
            var stream = connection.NeedsNoStream(exchange) ? NoStream : connection.StreamForPublishAsync(exchange);
            var sent = WriteCoreAfterAsync(_written, stream, subject, headers, body, cancellationToken);
            _written = sent;
            return new ValueTask(sent);
        }

        var captured = connection.StreamForPublishAsync(exchange);
        if (captured.IsCompletedSuccessfully && _written.IsCompleted)
        {
            ValueTask<NatsJSPublishConcurrentFuture> writing;
            try
            {
                writing = js.PublishConcurrentAsync(subject, body, NatsRawSerializer<ReadOnlyMemory<byte>>.Default, opts: null, headers, cancellationToken);
            }
            catch (Exception ex)
            {
                return ValueTask.FromException(ToPublishFailure(ex, subject));
            }

            if (writing.IsCompletedSuccessfully)
            {
                return AwaitPubAckAsync(writing.Result, subject, cancellationToken);
            }

            var pending = writing.AsTask();
            _written = pending;
            return AwaitWrittenThenPubAckAsync(pending, subject, cancellationToken);
        }

        var chained = WriteAfterAsync(_written, captured, subject, headers, body, cancellationToken);
        _written = chained;
        return AwaitWrittenThenPubAckAsync(chained, subject, cancellationToken);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private async Task<NatsJSPublishConcurrentFuture> WriteAfterAsync(Task previous, Task<string> stream, string subject, ClientHeaders? headers, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await stream.WaitAsync(cancellationToken).ConfigureAwait(false);
        return await js.PublishConcurrentAsync(subject, body, NatsRawSerializer<ReadOnlyMemory<byte>>.Default, opts: null, headers, cancellationToken).ConfigureAwait(false);
    }

    private async Task WriteCoreAfterAsync(Task previous, Task<string> stream, string subject, ClientHeaders? headers, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        try
        {
            await stream.WaitAsync(cancellationToken).ConfigureAwait(false);
            await client.PublishAsync(subject, body, headers, replyTo: null, NatsRawSerializer<ReadOnlyMemory<byte>>.Default, opts: null, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw ToPublishFailure(ex, subject);
        }
    }

    private async ValueTask AwaitWrittenThenPubAckAsync(Task<NatsJSPublishConcurrentFuture> written, string subject, CancellationToken cancellationToken)
    {
        NatsJSPublishConcurrentFuture future;
        try
        {
            future = await written.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw ToPublishFailure(ex, subject);
        }

        await AwaitPubAckAsync(future, subject, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask AwaitPubAckAsync(NatsJSPublishConcurrentFuture future, string subject, CancellationToken cancellationToken)
    {
        await using (future.ConfigureAwait(false))
        {
            try
            {
                var ack = await future.GetResponseAsync(cancellationToken).ConfigureAwait(false);
                if (ack.Error is { } error)
                {
                    throw new PublishNackedException($"The JetStream stream on {connection.DisplayUri} refused a message on '{subject}': {error.Description} (err_code {error.ErrCode}).");
                }
            }
            catch (Exception ex) when (ex is not (OperationCanceledException or TransportException))
            {
                throw ToPublishFailure(ex, subject);
            }
        }
    }

    private Exception ToPublishFailure(Exception ex, string subject) => ex switch
    {
        TransportException => ex,
        NatsNoRespondersException => new PublishNackedException($"No JetStream stream on {connection.DisplayUri} captures the subject '{subject}'.", ex),
        NatsPayloadTooLargeException => new PublishNackedException(ex.Message, ex),
        NatsJSApiException api => new PublishNackedException($"The JetStream stream on {connection.DisplayUri} refused a message on '{subject}': {api.Error.Description} (err_code {api.Error.ErrCode}).", api),
        NatsException => new ConnectionLostException($"Publishing to JetStream on {connection.DisplayUri} failed (the outcome is unknown): {ex.Message}", ex),
        _ => ex,
    };
}
