using System.Collections.Concurrent;
using System.Globalization;
using Federation.Core.Hosting;
using Federation.Core.Transport;
using Federation.Nats.JetStream;
using Federation.Nats.Leases;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// The NATS transport: federates NATS subject namespaces between independent nats-servers (schemes <c>nats</c> and <c>tls</c>).
/// See <c>src/Federation.Nats/Transport/README.md</c> for the mapping of exchanges, bindings and headers.
/// </summary>
/// <remarks>
/// URI query parameters (removed before connecting): <c>cluster-name</c> (the federation identity of this deployment; default the
/// server's INFO <c>cluster</c>, else its <c>server_name</c> when one was configured, else the URI's <c>host:port</c>: see
/// <see cref="NatsClusterIdentity"/>), <c>monitor-port</c> (the server's HTTP monitoring port, polled at <c>/subsz</c> to learn
/// the downstream's subscription interest), <c>monitor-interval-ms</c> (poll interval, default 1000) and <c>namespaces</c>
/// (comma-separated exchange names reported as existing from the start; without it the first subject token is the exchange)
/// and <c>connect-timeout-ms</c> (default 5000: the whole connect attempt, TCP connect, the server's INFO, TLS and the
/// CONNECT/PING handshake, so a peer that accepts TCP and never answers fails the attempt in time).
/// TLS and login: <c>cacertfile</c>, <c>certfile</c>, <c>keyfile</c>, <c>verify</c> (<c>verify_peer</c> or <c>verify_none</c>),
/// <c>nkey-seed-file</c> and <c>creds-file</c>; any TLS key (or <c>tls://</c>) requires TLS.
/// Link leases: <c>leases</c> (<c>true</c> by default), <c>lease-bucket</c> (the JetStream key-value bucket, default
/// <c>federation-leases</c>) and <c>lease-ttl-ms</c> (the max age of a bucket it creates, default 5000); see
/// <see cref="IBrokerConnection.Leases"/>. A server without JetStream offers none, which is logged once per URI.
/// Any other query key is rejected, naming it; user and password or a token go in the user-info, never in the query.
/// </remarks>
public sealed class NatsTransport : ITransport
{
    private readonly Func<NatsOpts, NatsOpts>? _configureOptions;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly ConcurrentDictionary<string, byte> _leasesUnavailableLogged = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _endpointNameLogged = new(StringComparer.Ordinal);

    // Outlives the connections: the link's next attempt after a durable consumer was deleted by hand resumes where it was.
    private readonly JetStream.JetStreamAckFloors _ackFloors = new();

    // Outlives the connections: the forwarding of a retired queue asks on a connection of its own.
    private readonly JetStream.JetStreamTakeOvers _takeOvers = new();

    /// <summary>Creates the transport.</summary>
    /// <param name="configureOptions">
    /// Adjusts the official client's <see cref="NatsOpts"/> of every connection, as with NATS.Client.Hosting (for example a
    /// logger factory, <see cref="NatsTlsOpts.ConfigureClientAuthentication"/> or <see cref="NatsAuthOpts.AuthCredCallback"/>).
    /// What the URI carries (server, credentials, TLS, connect timeout) is applied after it and wins.
    /// </param>
    public NatsTransport(Func<NatsOpts, NatsOpts>? configureOptions = null) => _configureOptions = configureOptions;

    /// <summary>
    /// Creates the transport with a logger factory for what it logs itself (link leases that are lost or unavailable);
    /// <see cref="NatsTransportServiceCollectionExtensions.AddNatsTransport"/> passes the container's. Without one, the
    /// <see cref="NatsOpts.LoggerFactory"/> of each connection is used.
    /// </summary>
    internal NatsTransport(Func<NatsOpts, NatsOpts>? configureOptions, ILoggerFactory? loggerFactory)
        : this(configureOptions) => _loggerFactory = loggerFactory;

    /// <inheritdoc />
    public IReadOnlyCollection<string> Schemes { get; } = ["nats", "tls"];

    /// <inheritdoc />
    /// <remarks>Checks the syntax and the query keys and values listed on this class; any other query key is a problem.</remarks>
    public IReadOnlyList<string> ValidateUri(string uri) => NatsUriSettings.Problems(uri);

    /// <inheritdoc />
    /// <remarks>
    /// Core NATS has none of the capabilities: exchanges and queues are emulated per connection over subjects, delivery is
    /// at-most-once, nothing is durable, there is no headers exchange, header values travel as text, and a routing key must
    /// be a sequence of non-empty subject tokens.
    /// </remarks>
    public TransportCapabilities Capabilities => TransportCapabilities.None;

    /// <inheritdoc />
    /// <remarks>
    /// With <c>jetstream=true</c> a durable consumer on a stream: the <c>stream=</c> one, or the exchange's own
    /// (<c>federation-&lt;exchange&gt;</c>), so that a <c>stream=</c> naming the exchange's own stream is the same kind as
    /// none; without it a queue kept in the link's own process, fed by core NATS subscriptions. Such a queue dies with its
    /// connection anyway; a durable consumer would stay upstream, filling up, and a later switch back to it would forward
    /// again everything it held, which the core link had forwarded.
    /// </remarks>
    public string? UpstreamQueueKind(string uri, string upstreamExchange)
    {
        ArgumentNullException.ThrowIfNull(uri);
        ArgumentNullException.ThrowIfNull(upstreamExchange);
        if (NatsUriSettings.Problems(uri).Count > 0)
        {
            return null;
        }

        return NatsUriSettings.Parse(uri).JetStream is { } jetStream
            ? $"a JetStream durable consumer on the stream '{jetStream.Stream ?? JetStreamNames.StreamFor(upstreamExchange)}'"
            : "a queue in the link's process fed by core NATS";
    }

    /// <inheritdoc />
    /// <remarks>
    /// JetStream or core NATS, without the stream: a URI without <c>stream=</c> reads the exchange's own stream, which a
    /// <c>stream=</c> may name, so that only the upstream exchange tells whether two JetStream URIs share a durable consumer.
    /// </remarks>
    public string? CoarseUpstreamQueueKind(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (NatsUriSettings.Problems(uri).Count > 0)
        {
            return null;
        }

        return NatsUriSettings.Parse(uri).JetStream is null ? "core" : "jetstream";
    }

    /// <inheritdoc />
    /// <remarks>
    /// The URI's <c>cluster-name</c> (without it the name comes from the server's INFO, known only by connecting), the vhost
    /// <c>/</c>, and one topic exchange per subject namespace of <c>namespaces</c>, which a connection's topology reports
    /// from the start.
    /// </remarks>
    public DownstreamPreview? PreviewDownstream(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (NatsUriSettings.Problems(uri).Count > 0)
        {
            return null;
        }

        var settings = NatsUriSettings.Parse(uri);
        return new DownstreamPreview(settings.ClusterName, NatsBrokerConnection.VirtualHostName, [.. settings.Namespaces.Select(name => new ExchangeSpec(name, ExchangeSpec.Types.Topic))]);
    }

    /// <inheritdoc />
    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var settings = NatsUriSettings.ParseToConnect(request.Uri);
        var display = UriRedaction.Redact(request.Uri);
        var client = await NatsConnect.ConnectAsync(
            request.Uri,
            display,
            settings.ServerUrl,
            settings.Security,
            request.ConnectionName,
            settings.ConnectTimeout,
            _configureOptions,
            // A full subscription buffer makes the client wait instead of dropping: pushback, never a silent loss. The
            // engine reconnects by opening a new connection, so the client's own reconnects are not wanted.
            static opts => opts with { SubPendingChannelFullMode = System.Threading.Channels.BoundedChannelFullMode.Wait, MaxReconnectRetry = 1 },
            cancellationToken).ConfigureAwait(false);
        NatsKvLeases? leases;
        string? noLeases = null;
        var logger = (_loggerFactory ?? client.Opts.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<NatsTransport>();
        try
        {
            leases = await NatsKvLeases.OpenAsync(client, settings.Leases, display, settings.ConnectTimeout, logger, reason => noLeases = reason, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        // Said when the engine first asks for the leases, which it does on downstream connections only: an upstream
        // without JetStream needs none, and a warning about it would only mislead.
        Action? reportNoLeases = noLeases is null ? null : () =>
        {
            if (_leasesUnavailableLogged.TryAdd(display, 0))
            {
                NatsLeaseLog.LeasesUnavailable(logger, display, noLeases);
            }
        };
        Action<string> reportEndpointName = name =>
        {
            if (_endpointNameLogged.TryAdd(display, 0))
            {
                NatsIdentityLog.ClusterNameFromEndpoint(logger, display, name);
            }
        };
        var core = new NatsBrokerConnection(client, settings, display, leases, reportNoLeases, logger, reportEndpointName, request.TopologyUnobserved) { AckFloors = _ackFloors, TakeOvers = _takeOvers };
        return settings.JetStream is null ? core : await JetStream.JetStreamBrokerConnection.CreateAsync(core, settings, request, core.Client, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Registers the NATS transport.</summary>
public static class NatsTransportServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="NatsTransport"/> (URI schemes <c>nats</c> and <c>tls</c>) and, for the Federation of Collectives, the
    /// subject transport <see cref="Messaging.NatsSubjectTransport"/> (see <see cref="NatsSubjectTransportServiceCollectionExtensions.AddNatsSubjectTransport"/>).
    /// </summary>
    public static IFederationBuilder AddNatsTransport(this IFederationBuilder builder, Func<NatsOpts, NatsOpts>? configureOptions = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddNatsSubjectTransport(configureOptions);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ITransport, NatsTransport>(services => new NatsTransport(configureOptions, services.GetService<ILoggerFactory>())));
        return builder;
    }
}
