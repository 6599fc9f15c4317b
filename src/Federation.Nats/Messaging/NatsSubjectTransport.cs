using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;

namespace Federation.Nats.Messaging;

/// <summary>
/// The subject-messaging transport over NATS (URI schemes <c>nats</c> and <c>tls</c>), used by the Federation of Collectives:
/// subjects, wildcards, queue groups, headers and reply subjects map one to one onto core NATS.
/// </summary>
/// <remarks>
/// <para>Each connection reconnects on its own and replays its subscriptions (forever by default); its
/// <see cref="ISubjectConnection.Completion"/> faults only when it gives up. Publishing while disconnected fails fast with
/// <see cref="ConnectionLostException"/>; a message over the server's <c>max_payload</c> fails with
/// <see cref="PublishNackedException"/>. The client asks for "no responders": a message
/// published with a reply subject that reaches no subscriber brings the server's status 503 to the publisher's own plain
/// subscription on that reply subject, delivered as a <see cref="SubjectMessage"/> with
/// <see cref="SubjectMessage.IsNoResponders"/> set (never to a queue subscription, never to another connection).</para>
/// <para>URI query parameters (removed before connecting): <c>max-reconnect-attempts</c> (default -1, forever),
/// <c>reconnect-wait-ms</c> (first wait between attempts, default 2000, doubling to 5000) and <c>connect-timeout-ms</c>
/// (default 5000). Unknown keys are rejected.</para>
/// <para>Headers: every value of a name is kept in order, but NATS groups a name's values together, so fields interleaved by
/// name come back grouped by name, names in the order of their first appearance.</para>
/// </remarks>
public sealed class NatsSubjectTransport : ISubjectTransport
{
    private readonly ILogger _logger;
    private readonly Func<NatsOpts, NatsOpts>? _configureOptions;

    /// <summary>Creates the transport.</summary>
    /// <param name="loggerFactory">Where connection events and handler failures are logged; null logs nothing.</param>
    public NatsSubjectTransport(ILoggerFactory? loggerFactory)
        : this(loggerFactory, configureOptions: null)
    {
    }

    /// <summary>Creates the transport with a configure callback for the official client's options.</summary>
    /// <param name="loggerFactory">Where connection events and handler failures are logged; null logs nothing.</param>
    /// <param name="configureOptions">
    /// Adjusts the <see cref="NatsOpts"/> of every connection, as with NATS.Client.Hosting; what the URI carries (server,
    /// credentials, TLS, timeouts, reconnect settings) is applied after it and wins.
    /// </param>
    public NatsSubjectTransport(ILoggerFactory? loggerFactory = null, Func<NatsOpts, NatsOpts>? configureOptions = null)
    {
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<NatsSubjectTransport>();
        _configureOptions = configureOptions;
    }

    /// <inheritdoc />
    public IReadOnlyCollection<string> Schemes { get; } = ["nats", "tls"];

    /// <inheritdoc />
    public IReadOnlyList<string> ValidateUri(string uri)
    {
        try
        {
            _ = NatsSubjectUriSettings.Parse(uri);
            return [];
        }
        catch (ArgumentException error)
        {
            // The parser's sentences quote the URI redacted and name the query key; the parameter name adds nothing.
            return [error.Message.Replace($" (Parameter '{error.ParamName}')", string.Empty, StringComparison.Ordinal)];
        }
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The URI is not a nats:// or tls:// URI, or has an unknown or invalid query parameter.</exception>
    public async ValueTask<ISubjectConnection> ConnectAsync(SubjectConnectionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var settings = NatsSubjectUriSettings.ParseToConnect(request.Uri);
        var displayUri = UriRedaction.Redact(request.Uri);
        var client = await NatsConnect.ConnectAsync(
            request.Uri,
            displayUri,
            settings.ServerUrl,
            settings.Security,
            request.ConnectionName,
            settings.ConnectTimeout,
            _configureOptions,
            opts => opts with
            {
                ReconnectWaitMin = settings.ReconnectWait,
                ReconnectWaitMax = settings.ReconnectWait > NatsOpts.Default.ReconnectWaitMax ? settings.ReconnectWait : NatsOpts.Default.ReconnectWaitMax,
            },
            cancellationToken).ConfigureAwait(false);

        return new NatsSubjectConnection(client, displayUri, request.ConnectionName, settings.MaxReconnectAttempts, _logger);
    }
}
