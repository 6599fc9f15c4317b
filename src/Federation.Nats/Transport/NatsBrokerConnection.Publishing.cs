using Federation.Core.Transport;
using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// Publishing through the connection: opening publishers (whose drops the server's refusals are counted to, see
/// <see cref="OnServerErrorAsync"/>), and handing their messages to the client.
/// </summary>
internal sealed partial class NatsBrokerConnection
{
    public ValueTask<IMessagePublisher> OpenPublisherAsync(PublisherOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfLost();
        var publisher = new NatsPublisher(this, options.Confirms);
        if (options.Dropped is { } dropped)
        {
            lock (_lock)
            {
                _publishDropListeners.Add((publisher, dropped));
            }
        }

        return ValueTask.FromResult<IMessagePublisher>(publisher);
    }

    /// <summary>A publisher was disposed: the server's refusals are no longer its to count.</summary>
    internal void Forget(NatsPublisher publisher)
    {
        lock (_lock)
        {
            _publishDropListeners.RemoveAll(l => ReferenceEquals(l.Publisher, publisher));
        }
    }

    /// <summary>The group-commit confirmer of this connection's publishes.</summary>
    internal NatsPublishConfirmer Confirmer => _confirmer;

    /// <summary>The largest message (headers and body) the server takes, or <see cref="long.MaxValue"/> while unknown.</summary>
    internal long MaxPayload => _nats.ServerInfo is { MaxPayload: > 0 } info ? info.MaxPayload : long.MaxValue;

    /// <summary>
    /// Hands one message to the client, which serialises the headers and the body into its write buffer before this
    /// returns, so the caller may reuse <paramref name="headers"/> at once. The task is pending while the client waits for
    /// room in its buffer. Throws synchronously when the client refuses the message (for example over max_payload) or
    /// this connection is lost.
    /// </summary>
    internal ValueTask WriteAsync(string subject, NatsHeaders? headers, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        ThrowIfLost();

        // Not open means the client is reconnecting (this connection is about to be declared lost): its PublishAsync would
        // then wait for the reconnect and serialise the headers and the body only afterwards, while the publisher reuses
        // its header object for the next message and the caller may reuse the body.
        if (_nats.ConnectionState != NatsConnectionState.Open)
        {
            throw new ConnectionLostException($"The NATS connection {DisplayUri} was lost.");
        }

        return _nats.PublishAsync(subject, body, headers, replyTo: null, RawBody, opts: null, cancellationToken);
    }

    private static readonly NatsRawSerializer<ReadOnlyMemory<byte>> RawBody = NatsRawSerializer<ReadOnlyMemory<byte>>.Default;

    /// <summary>The transport's exception for a failed publish of the client, without the connection's credentials.</summary>
    internal Exception ToPublishFailure(Exception ex) => ToPublishFailure(ex, _nats.Opts);

    /// <summary>The transport's exception for a failed publish of a client logged in with <paramref name="auth"/>, without its credentials.</summary>
    internal static Exception ToPublishFailure(Exception ex, NatsOpts? auth) => ex switch
    {
        NatsPayloadTooLargeException tooLarge => new MessageRefusedException($"The NATS server refused the message: {NatsErrorText.Message(tooLarge, auth)}", NatsErrorText.SafeInner(tooLarge, auth)),
        NatsException nats => new ConnectionLostException($"Publishing to NATS failed: {NatsErrorText.Message(nats, auth)}", NatsErrorText.SafeInner(nats, auth)),
        _ => ex,
    };
}
