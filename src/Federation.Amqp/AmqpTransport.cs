using Federation.Core.Transport;
using RabbitMQ.Client;

namespace Federation.Amqp;

/// <summary>
/// The AMQP 0-9-1 transport over RabbitMQ.Client, for <c>amqp://</c> and <c>amqps://</c> URIs.
/// </summary>
/// <remarks>
/// <para>URI: <c>amqp[s]://user:password@host[:port][/vhost][?query]</c>. The vhost is the URL-decoded path (<c>%2f</c> is
/// <c>/</c>); an empty path or <c>/</c> means the vhost <c>/</c>. Query parameters:</para>
/// <list type="bullet">
/// <item><c>heartbeat</c>: seconds, default 30 (0 disables heartbeats).</item>
/// <item><c>connection_timeout</c>: milliseconds, default 30 000 (also when 0). It bounds the whole connect attempt: TCP
/// connect, TLS and the AMQP handshake, so a peer that accepts TCP and never answers fails the attempt in time.</item>
/// <item><c>server_name_indication</c>: the TLS server name for <c>amqps</c>, default the host. The server certificate must be valid for it.</item>
/// <item><c>cacertfile</c> (<c>amqps</c> only): PEM file of the CAs that may sign the server certificate; they replace the system store.</item>
/// <item><c>certfile</c>, <c>keyfile</c> (<c>amqps</c> only): PEM files of the client certificate and its private key (the
/// key may also sit in <c>certfile</c>).</item>
/// <item><c>verify</c> (<c>amqps</c> only): <c>verify_peer</c> (default) or <c>verify_none</c> (encrypt without authenticating the server).</item>
/// <item><c>auth_mechanism</c>: <c>plain</c> (default) or <c>external</c>: the broker takes the user from the client certificate
/// (needs <c>amqps</c>, <c>certfile</c> and the broker's rabbitmq_auth_mechanism_ssl plugin).</item>
/// <item><c>management-port</c>: port of the rabbitmq_management HTTP API on the same host, default 15672. It is used for
/// the topology snapshot and to declare internal exchanges (AMQP clients cannot set the <c>internal</c> flag).</item>
/// <item><c>management-scheme</c>: <c>http</c> or <c>https</c>, default <c>https</c> for <c>amqps</c> URIs and <c>http</c> otherwise.
/// Over https the TLS keys above apply to the management API too; it logs in with the URI's user and password.</item>
/// <item><c>management-timeout</c>: milliseconds, 1 to 120 000, default 10 000. How long one management API call may take,
/// answer included. A management listener that accepts connections and never answers (a hung node, another service on
/// <c>management-port</c>) fails the call after it with <see cref="BrokerUnreachableException"/>, naming the timeout: an
/// upstream link goes to <c>error</c> and retries with its backoff, instead of staying in <c>starting</c>.</item>
/// <item><c>topology</c>: <c>events</c> (default) observes the vhost's exchanges and bindings through the
/// rabbitmq_event_exchange plugin and the management API; <c>none</c> leaves <see cref="IBrokerConnection.Topology"/> null
/// (enough for upstream-only connections, and it saves one queue per connection).</item>
/// <item><c>event-vhost</c>: the vhost holding <c>amq.rabbitmq.event</c> (the broker's <c>rabbitmq_event_exchange.vhost</c>
/// setting), default <c>/</c>. When it differs from the connection's vhost, the topology source opens a second connection there.</item>
/// </list>
/// <para>Any other query key is rejected (see <see cref="ValidateUri"/>), naming it, rather than ignored.</para>
/// <para>Connections never recover by themselves (automatic and topology recovery are off): a lost connection faults
/// <see cref="IBrokerConnection.Completion"/> and the engine reconnects. The one exception is a connection's publishing
/// connection, which it opens again for the next publisher after it closed (see AmqpConnection.CreatePublishChannelAsync).</para>
/// </remarks>
public sealed class AmqpTransport : ITransport
{
    /// <summary>The plain-TCP scheme.</summary>
    public const string AmqpScheme = "amqp";

    /// <summary>The TLS scheme.</summary>
    public const string AmqpsScheme = "amqps";

    /// <inheritdoc />
    public IReadOnlyCollection<string> Schemes { get; } = [AmqpScheme, AmqpsScheme];

    /// <inheritdoc />
    /// <remarks>Checks the syntax and the query keys and values listed above; any other query key is a problem.</remarks>
    public IReadOnlyList<string> ValidateUri(string uri) => AmqpEndpoint.Problems(uri);

    /// <inheritdoc />
    /// <remarks>
    /// Refuses a <c>prefetch-count</c> above 65535: <c>basic.qos</c> carries it in 16 bits, so the link's consumer would
    /// refuse it every time it starts. Checked here, per transport, because JetStream upstreams take larger values.
    /// </remarks>
    public IReadOnlyList<UpstreamSettingProblem> ValidateUpstream(string uri, UpstreamSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.PrefetchCount is > ushort.MaxValue and var prefetch
            ? [new UpstreamSettingProblem(UpstreamSettings.PrefetchCountKey, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"'{prefetch}' is above AMQP's limit of {ushort.MaxValue} (basic.qos carries it in 16 bits); set it to at most {ushort.MaxValue} for an amqp:// or amqps:// upstream"))]
            : [];
    }

    /// <inheritdoc />
    /// <remarks>RabbitMQ has every capability. The headers exchange is built in; durability holds for durable queues and persistent messages.</remarks>
    public TransportCapabilities Capabilities => TransportCapabilities.All;

    /// <inheritdoc />
    /// <remarks>
    /// The URI's vhost only: the cluster name is the broker's (<c>cluster_name</c>) and the exchanges are observed on it, so
    /// both are known only by connecting. With a configured <c>ClusterName</c> and an explicit topology that is enough for
    /// the engine to list its links before the broker is reached.
    /// </remarks>
    public DownstreamPreview? PreviewDownstream(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        return AmqpEndpoint.Problems(uri).Count > 0 ? null : new DownstreamPreview(null, AmqpEndpoint.Parse(uri).VirtualHost, []);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The URI is malformed.</exception>
    /// <exception cref="BrokerUnreachableException">
    /// The broker cannot be reached, refused the connection, or did not complete the TCP connect and the AMQP handshake
    /// within <c>connection_timeout</c>.
    /// </exception>
    /// <exception cref="AuthenticationFailedException">The broker refused the credentials or the vhost.</exception>
    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        var endpoint = AmqpEndpoint.Parse(request.Uri);
        var connection = await ConnectWithinDeadlineAsync(CreateConnectingFactory(endpoint, request.ConnectionName), endpoint, request.ConnectionName, cancellationToken).ConfigureAwait(false);
        if (request.Blocked is { } blocked)
        {
            ReportBlocking(connection, blocked);
        }

        return await AmqpConnection.OpenAsync(connection, endpoint, request.ObserveTopology, OpenPublishing, cancellationToken).ConfigureAwait(false);

        // The publishers' connection (see AmqpConnection.CreatePublishChannelAsync), opened when the first publisher needs it:
        // the same broker, vhost and credentials, a name that says what it is for. It is the one a resource alarm blocks,
        // since it is the one that publishes, so it reports blocking too.
        async Task<IConnection> OpenPublishing(CancellationToken token)
        {
            var name = request.ConnectionName + PublishingSuffix;
            var publishing = await ConnectWithinDeadlineAsync(CreateConnectingFactory(endpoint, name), endpoint, name, token).ConfigureAwait(false);
            if (request.Blocked is { } alsoBlocked)
            {
                ReportBlocking(publishing, alsoBlocked, unblockAtShutdown: true);
            }

            return publishing;
        }
    }

    /// <summary>
    /// <see cref="CreateFactory"/> for a connection about to be opened, with a TLS file that cannot be used said as such: the
    /// files were checked when the URI was parsed, and one that changed since fails this attempt (the next may succeed),
    /// the main connection's or the publishing connection's, which opens later.
    /// </summary>
    private static ConnectionFactory CreateConnectingFactory(AmqpEndpoint endpoint, string connectionName)
    {
        try
        {
            return CreateFactory(endpoint, endpoint.VirtualHost, connectionName);
        }
        catch (Exception error) when (AmqpTlsFiles.IsFileProblem(error))
        {
            throw new Federation.Core.Transport.BrokerUnreachableException(
                $"A TLS file (cacertfile, certfile or keyfile) cannot be used: {AmqpTlsFiles.Describe(error)}. URI: {endpoint.DisplayUri}");
        }
    }

    /// <summary>What the name of a connection's publishing connection adds to it (see <see cref="AmqpConnection.CreatePublishChannelAsync"/>).</summary>
    internal const string PublishingSuffix = " (publishing)";

    /// <summary>
    /// Hands RabbitMQ's connection.blocked (with its reason, "low on memory" say) and connection.unblocked to
    /// <paramref name="blocked"/>: during a resource alarm the broker stops reading from publishing connections, which stay
    /// up, so nothing else tells that nothing moves. The client announces the connection.blocked capability by default.
    /// </summary>
    /// <param name="connection">The connection whose blocking is reported.</param>
    /// <param name="blocked">Told the reason when it is blocked, null when it is no longer.</param>
    /// <param name="unblockAtShutdown">
    /// Whether a connection that ends while blocked says it is no longer blocked: the publishing connection, which may close
    /// (and be replaced by one the alarm does not block, or none) while the connection it serves stays. The main connection
    /// needs none: its end ends the session, and the next one starts unblocked.
    /// </param>
    private static void ReportBlocking(IConnection connection, Action<string?> blocked, bool unblockAtShutdown = false)
    {
        var isBlocked = 0;
        connection.ConnectionBlockedAsync += (_, args) =>
        {
            Volatile.Write(ref isBlocked, 1);
            blocked(args.Reason ?? string.Empty);
            return Task.CompletedTask;
        };
        connection.ConnectionUnblockedAsync += (_, _) =>
        {
            Volatile.Write(ref isBlocked, 0);
            blocked(null);
            return Task.CompletedTask;
        };
        if (unblockAtShutdown)
        {
            connection.ConnectionShutdownAsync += (_, _) =>
            {
                if (Interlocked.Exchange(ref isBlocked, 0) == 1)
                {
                    blocked(null);
                }

                return Task.CompletedTask;
            };
        }
    }

    /// <summary>The largest message body RabbitMQ can be configured to accept (<c>max_message_size</c>).</summary>
    internal const uint MaxBodySize = 512 * 1024 * 1024;

    /// <summary>
    /// A connection factory for <paramref name="endpoint"/>, on <paramref name="virtualHost"/>. With
    /// <paramref name="unreadable"/>, a delivery whose header the client cannot read is defused and recorded there
    /// instead of failing the connection (<see cref="InboundFrameDefuser"/>).
    /// </summary>
    internal static ConnectionFactory CreateFactory(AmqpEndpoint endpoint, string virtualHost, string connectionName, UnreadableDeliveries? unreadable = null)
    {
        var factory = new ConnectionFactory
        {
            HostName = endpoint.Host,
            Port = endpoint.Port,
            UserName = endpoint.User,
            Password = endpoint.Password,
            VirtualHost = virtualHost,
            RequestedHeartbeat = endpoint.Heartbeat,
            RequestedConnectionTimeout = endpoint.ConnectDeadline,
            HandshakeContinuationTimeout = endpoint.ConnectDeadline,
            ClientProvidedName = connectionName,

            // Any body RabbitMQ accepts (max_message_size: 128 MiB by default, 512 MiB at most). The client's own default
            // of 64 MiB closes the connection over a larger delivery, which then comes back first after every restart.
            MaxInboundMessageBodySize = MaxBodySize,

            // The engine owns reconnects and redeclares from its desired state (see IBrokerConnection).
            AutomaticRecoveryEnabled = false,
            TopologyRecoveryEnabled = false,
        };

        System.Net.Security.SslClientAuthenticationOptions? tls = null;
        if (endpoint.Tls)
        {
            var serverName = endpoint.ServerName ?? endpoint.Host;
            var trustedCas = endpoint.CaCertFile is { } caCertFile ? AmqpTlsFiles.LoadCaCertificates(caCertFile) : null;
            var check = new ServerCertificateCheck(serverName, endpoint.VerifyPeer, trustedCas);
            System.Security.Cryptography.X509Certificates.X509CertificateCollection? certificates =
                endpoint.CertFile is { } certFile ? [AmqpTlsFiles.LoadClientCertificate(certFile, endpoint.KeyFile)] : null;
            tls = GuardedTcpClient.TlsOptions(serverName, check.Validate, certificates);

            // The guarded socket does TLS (it must read what the broker sends after decryption), so the client's own is
            // off. The check stays here too: a refused certificate is reported from it when the connect fails.
            factory.Ssl = new SslOption(serverName, enabled: false) { CertificateValidationCallback = check.Validate };
        }

        // Every byte the broker sends passes InboundFrameGuard first: a header the client would read into a stack
        // overflow (which ends the process) fails the connection as an unreadable message instead.
        factory.SocketFactory = GuardedTcpClient.Factory(tls, unreadable);

        if (endpoint.ExternalAuthentication)
        {
            // EXTERNAL: the broker takes the user from the client certificate (rabbitmq_auth_mechanism_ssl); no password is sent.
            factory.AuthMechanisms = [new ExternalMechanismFactory()];
        }

        return factory;
    }

    /// <summary>
    /// Opens the client connection (TCP connect, TLS, and the AMQP handshake up to connection.open-ok) within the
    /// endpoint's <c>connection_timeout</c>. The client library's own timeouts do not cover a peer that accepts TCP and
    /// never answers (it waits for connection.start forever), so the deadline is also enforced here: the attempt is
    /// cancelled, and abandoned if the library does not honour the cancellation.
    /// </summary>
    internal static async Task<IConnection> ConnectWithinDeadlineAsync(ConnectionFactory factory, AmqpEndpoint endpoint, string connectionName, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(endpoint.ConnectDeadline);
        var connecting = factory.CreateConnectionAsync(connectionName, deadline.Token);
        try
        {
            return await connecting.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (Exception error) when (deadline.IsCancellationRequested)
        {
            DisposeWhenDone(connecting);
            if (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException($"Connecting to {endpoint.DisplayUri} was cancelled.", error, cancellationToken);
            }

            throw new Federation.Core.Transport.BrokerUnreachableException(
                $"Connecting to {endpoint.DisplayUri} timed out after {Seconds(endpoint.ConnectDeadline)}: no completed TCP connect and AMQP handshake within connection_timeout.",
                error);
        }
        catch (Exception) when (ServerCertificateCheck.Of(factory.Ssl.CertificateValidationCallback)?.Failure is { } refusal)
        {
            // The reason comes before the URI: a URI with TLS file keys is masked from those keys to the end of the text.
            throw new Federation.Core.Transport.BrokerUnreachableException(
                $"TLS refused the server at {HostAndPort(endpoint)}: {refusal}. URI: {endpoint.DisplayUri}");
        }
        catch (Exception error)
        {
            var mapped = AmqpErrors.Connect(error, endpoint.DisplayUri, endpoint.Host, endpoint.User, endpoint.Password);
            if (endpoint.Tls && mapped is Federation.Core.Transport.BrokerUnreachableException && TlsHandshakeFailure(error) is { } failure)
            {
                // A plain AMQP port answers the TLS hello with its protocol header (a "corrupted frame" to TLS); a broker that
                // requires a client certificate just resets the connection (TLS 1.3). Say which one this looks like.
                var hint = endpoint.CertFile is { } certFile && AmqpClientCertificateRefusal.Describe(certFile, failure.Message, DateTimeOffset.UtcNow) is { } refusedCertificate
                    ? $" ({refusedCertificate})"
                    : await PlainAmqpListenerProbe.AnswersPlainAmqpAsync(endpoint.Host, endpoint.Port, cancellationToken).ConfigureAwait(false)
                    ? " (the port answers plain AMQP, not TLS: use amqp:// for it, or the broker's TLS port, 5671 by default)"
                    : endpoint.CertFile is null ? " (a broker that requires a client certificate closes the connection like this: set certfile and keyfile)"
                    : $" ({AmqpClientCertificateRefusal.DescribeReset(endpoint.CertFile, DateTimeOffset.UtcNow)})";
                throw new Federation.Core.Transport.BrokerUnreachableException(
                    $"The TLS handshake with {HostAndPort(endpoint)} failed: {AmqpErrors.Scrub(failure.Message, endpoint.User, endpoint.Password)}{hint}. URI: {endpoint.DisplayUri}");
            }

            if (!endpoint.Tls && mapped is Federation.Core.Transport.BrokerUnreachableException && ResetAfterConnect(error))
            {
                // RabbitMQ's TLS listener resets a client that opens with the plain AMQP header.
                throw new Federation.Core.Transport.BrokerUnreachableException(
                    $"{mapped.Message} (a TLS port resets plain AMQP clients like this: if this is the broker's TLS port, use amqps://)");
            }

            throw mapped;
        }
    }

    /// <summary>True when the peer reset a TCP connection that had been established (not a refused connect).</summary>
    private static bool ResetAfterConnect(Exception error)
    {
        for (var inner = error; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Net.Sockets.SocketException socket)
            {
                return socket.SocketErrorCode is System.Net.Sockets.SocketError.ConnectionReset;
            }
        }

        return false;
    }

    /// <summary>Closes a connection attempt we gave up on, should it still succeed later.</summary>
    private static void DisposeWhenDone(Task<IConnection> connecting) =>
        _ = connecting.ContinueWith(
            static async attempt =>
            {
                if (attempt.IsCompletedSuccessfully)
                {
                    try
                    {
                        await attempt.Result.AbortAsync().ConfigureAwait(false);
                    }
#pragma warning disable CA1031 // A connection nobody wants any more: whatever closing it throws is irrelevant.
                    catch (Exception)
#pragma warning restore CA1031
                    {
                    }

                    attempt.Result.Dispose();
                }
                else
                {
                    _ = attempt.Exception; // Observed: the failure of an abandoned attempt is of no interest.
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

    /// <summary>
    /// The innermost exception of <paramref name="error"/>'s chain when it shows the TLS session failed (an
    /// authentication error, or a reset or I/O error after TCP connected), or null: a TCP connect that was refused or
    /// timed out is no TLS failure.
    /// </summary>
    private static Exception? TlsHandshakeFailure(Exception error)
    {
        var sessionFailed = false;
        var root = error;
        for (var inner = error; inner is not null; inner = inner.InnerException)
        {
            root = inner;
            switch (inner)
            {
                case System.Net.Sockets.SocketException { SocketErrorCode: not (System.Net.Sockets.SocketError.ConnectionReset or System.Net.Sockets.SocketError.ConnectionAborted) }:
                    return null;
                case System.Security.Authentication.AuthenticationException or IOException or System.Net.Sockets.SocketException:
                    sessionFailed = true;
                    break;
            }
        }

        return sessionFailed ? root : null;
    }

    private static string HostAndPort(AmqpEndpoint endpoint) =>
        (endpoint.Host.Contains(':', StringComparison.Ordinal) ? $"[{endpoint.Host}]" : endpoint.Host) + ":" + endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string Seconds(TimeSpan duration) =>
        duration.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) + " s";
}
