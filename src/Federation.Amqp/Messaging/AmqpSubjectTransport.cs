using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RabbitMQ.Client;

namespace Federation.Amqp.Messaging;

/// <summary>
/// The subject-messaging transport over AMQP 0-9-1 (URI schemes <c>amqp</c> and <c>amqps</c>), used by the Federation of
/// Collectives on RabbitMQ. Subjects are routing keys on the topic exchange <c>amq.topic</c>, which every vhost has.
/// </summary>
/// <remarks>
/// <para>Mapping: a publish subject is its routing key. A subscription binds a queue with its subject as the binding key,
/// <c>*</c> unchanged and a trailing <c>&gt;</c> as <c>*.#</c> (one or more words, as on NATS). A plain subscription consumes
/// its own exclusive, server-named queue; a queue group shares one auto-delete queue named
/// <c>federation.subject-group &lt;group&gt; &lt;subject&gt;</c> (a SHA-256 of both when that is over 255 bytes), so each message
/// goes to one member. <see cref="SubjectMessage.ReplyTo"/> travels in the AMQP <c>reply-to</c> property; a reply is a publish
/// to that subject like any other. Headers travel in the AMQP headers table (a repeated name as an array, in order).</para>
/// <para>Refused with <see cref="ArgumentException"/> naming the subject: a <c>#</c> token (it is AMQP's multi-word wildcard)
/// and subjects whose routing or binding key is over 255 bytes of UTF-8 (an AMQP short string), besides the NATS rules.</para>
/// <para>Delivery is at-most-once: deliveries are acknowledged as the handler loop takes them, with at most 256 unacknowledged
/// per subscription. Nothing is persistent. The connection does not recover by itself: when it is lost,
/// <see cref="ISubjectConnection.Completion"/> faults with <see cref="ConnectionLostException"/> and the subscriptions end;
/// the federation broker reconnects with backoff.</para>
/// <para>URI: as for <see cref="AmqpTransport"/> (<c>amqp[s]://user:password@host[:port][/vhost][?query]</c>, with
/// <c>heartbeat</c>, <c>connection_timeout</c> and the TLS keys); the exchange-federation keys (<c>management-port</c>,
/// <c>management-scheme</c>, <c>management-timeout</c>, <c>topology</c>, <c>event-vhost</c>) are accepted so one URI serves both, and have no effect here.</para>
/// </remarks>
public sealed class AmqpSubjectTransport : ISubjectTransport
{
    /// <summary>The topic exchange that carries every subject.</summary>
    public const string Exchange = "amq.topic";

    private readonly ILogger _logger;

    /// <summary>Creates the transport.</summary>
    /// <param name="loggerFactory">Where connection losses and handler failures are logged; null logs nothing.</param>
    public AmqpSubjectTransport(ILoggerFactory? loggerFactory = null)
    {
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<AmqpSubjectTransport>();
    }

    /// <inheritdoc />
    public IReadOnlyCollection<string> Schemes { get; } = [AmqpTransport.AmqpScheme, AmqpTransport.AmqpsScheme];

    /// <inheritdoc />
    public IReadOnlyList<string> ValidateUri(string uri) =>
        AmqpEndpoint.Problems(uri) is { Count: > 0 } problems ? [$"'{UriRedaction.Redact(uri)}' {string.Join("; ", problems)}"] : [];

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The URI is malformed or has an unknown query key.</exception>
    /// <exception cref="BrokerUnreachableException">The broker cannot be reached within <c>connection_timeout</c>.</exception>
    /// <exception cref="AuthenticationFailedException">The broker refused the credentials or the vhost.</exception>
    public async ValueTask<ISubjectConnection> ConnectAsync(SubjectConnectionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        var endpoint = AmqpEndpoint.Parse(request.Uri);
        ConnectionFactory factory;
        var unreadable = new UnreadableDeliveries();
        try
        {
            factory = AmqpTransport.CreateFactory(endpoint, endpoint.VirtualHost, request.ConnectionName, unreadable);
        }
        catch (Exception error) when (AmqpTlsFiles.IsFileProblem(error))
        {
            throw new Federation.Core.Transport.BrokerUnreachableException(
                $"A TLS file (cacertfile, certfile or keyfile) cannot be used: {AmqpTlsFiles.Describe(error)}. URI: {endpoint.DisplayUri}");
        }

        var client = await AmqpTransport.ConnectWithinDeadlineAsync(factory, endpoint, request.ConnectionName, cancellationToken).ConfigureAwait(false);
        return new AmqpSubjectConnection(client, endpoint, Exchange, request.ConnectionName, unreadable, _logger);
    }
}
