using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// The cluster and virtual host that an upstream's URIs reach, as the broker names itself once connected (RabbitMQ's
/// <c>cluster_name</c>, a NATS server's cluster). A reload that points a link at URIs that share no address with the old
/// ones (another node of the same RabbitMQ cluster, a host name instead of an address) may still reach the very queue the
/// link consumes: deleting it as left behind would discard what it holds and lose what the upstream publishes until the
/// new run has declared it again. Connecting to both sides is the only way to tell.
/// </summary>
internal static class UpstreamCluster
{
    /// <summary>How long finding out may take, both sides together: a reload waits for it.</summary>
    public static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Whether the upstreams of <paramref name="before"/> and <paramref name="after"/> reach one cluster and virtual host, by
    /// the names the first URI of each that answers gives (<see cref="UpstreamObjects.ConnectAsync"/>). False when either
    /// cannot tell: no URI answered within <see cref="Within"/>, the connect failed in any other way, or the broker gives no
    /// cluster name.
    /// </summary>
    /// <returns>The shared cluster name and virtual host, or null.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired.</exception>
    public static async Task<(string ClusterName, string VirtualHost)?> SharedAsync(LinkDefinition before, LinkDefinition after, TransportResolver transports, TimeProvider time, CancellationToken cancellationToken = default)
    {
        using var limit = new CancellationTokenSource(Within, time);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(limit.Token, cancellationToken);
        var (old, now) = (OfAsync(before, transports, time, deadline.Token), OfAsync(after, transports, time, deadline.Token));
        await Task.WhenAll(old, now).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return old.Result is { } shared && shared == now.Result ? shared : null;
    }

    private static async Task<(string ClusterName, string VirtualHost)?> OfAsync(LinkDefinition definition, TransportResolver transports, TimeProvider time, CancellationToken cancellationToken)
    {
        IBrokerConnection connection;
        try
        {
            connection = await UpstreamObjects.ConnectAsync(definition, transports, time, cancellationToken).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Whatever a connect throws (not only TransportException: a client's unmapped error, a
                               // cancellation of its own, the deadline) means "cannot tell" here, never a failed reload:
                               // the caller has yet to stop the old link.
        catch (Exception)
#pragma warning restore CA1031
        {
            return null;
        }

        var named = connection.ClusterName is { Length: > 0 } name ? (name, connection.VirtualHost) : ((string, string)?)null;
        await CloseQuietlyAsync(connection).ConfigureAwait(false);
        return named;
    }

    private static async Task CloseQuietlyAsync(IBrokerConnection connection)
    {
        try
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A probe's connection: what closing it throws changes nothing of what it told.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
