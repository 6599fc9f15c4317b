using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>
/// The transport for <c>memory://[user:pass@]broker[/vhost]</c> URIs: connects to the <see cref="InMemoryBroker"/>s of a registry.
/// The vhost path is URL-decoded (<c>%2f</c> is <c>/</c>); an empty path or <c>/</c> means the vhost <c>/</c>.
/// </summary>
/// <param name="registry">The brokers this transport can reach.</param>
public sealed class InMemoryTransport(InMemoryBrokerRegistry registry) : ITransport
{
    /// <summary>The URI scheme this transport serves.</summary>
    public const string Scheme = "memory";

    /// <inheritdoc />
    public IReadOnlyCollection<string> Schemes { get; } = [Scheme];

    /// <inheritdoc />
    /// <remarks>A <c>memory://</c> URI takes no query keys. Whether the broker exists is not checked: it may be created later.</remarks>
    public IReadOnlyList<string> ValidateUri(string uri) => InMemoryUri.Problems(uri);

    /// <inheritdoc />
    /// <remarks>
    /// The in-memory broker models RabbitMQ, so it has every capability. It is durable in its own terms: stopping and
    /// starting an <see cref="InMemoryBroker"/> keeps its queues and messages (nothing survives the process).
    /// </remarks>
    public TransportCapabilities Capabilities => TransportCapabilities.All;

    /// <inheritdoc />
    /// <remarks>
    /// The vhost of the URI, and the cluster name of the broker it names once that broker is registered; the exchanges are
    /// the broker's own, known only by connecting.
    /// </remarks>
    public DownstreamPreview? PreviewDownstream(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (InMemoryUri.Problems(uri).Count > 0)
        {
            return null;
        }

        var parsed = InMemoryUri.Parse(uri);
        return new DownstreamPreview(registry.TryGet(parsed.BrokerName, out var broker) ? broker.ClusterName : null, parsed.VirtualHost, []);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The URI is malformed.</exception>
    /// <exception cref="BrokerUnreachableException">No such broker or virtual host, or the broker is stopped.</exception>
    /// <exception cref="AuthenticationFailedException">The broker refused the credentials.</exception>
    public ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<IBrokerConnection>(cancellationToken);
        }

        try
        {
            var uri = InMemoryUri.Parse(request.Uri);
            var displayUri = UriRedaction.Redact(request.Uri);
            if (!registry.TryGet(uri.BrokerName, out var broker))
            {
                // Retried like any unreachable broker, not refused: a broker may legitimately be registered later (a
                // reload's new upstream, a simulation that adds brokers as it goes). The message says how, for the reader
                // whose host retries forever because nothing registered it.
                var known = registry.Names;
                throw new BrokerUnreachableException(
                    $"No in-memory broker named '{uri.BrokerName}' is registered ({displayUri}; registered: " +
                    $"{(known.Count == 0 ? "none" : string.Join(", ", known.Select(n => $"'{n}'")))}). Register it with InMemoryBrokerRegistry.GetOrAdd " +
                    "(in a host, on the registry AddFederation registers, or on one passed to UseInMemoryBrokers).");
            }

            return ValueTask.FromResult<IBrokerConnection>(broker.Connect(uri.VirtualHost, request.ConnectionName, uri.User, uri.Password, displayUri));
        }
        catch (Exception error) when (error is TransportException or ArgumentException)
        {
            return ValueTask.FromException<IBrokerConnection>(error);
        }
    }
}
