using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// What a probe's connection learns: the cluster name and virtual host the broker gives once connected. The upstream and
/// downstream cluster probes (<see cref="UpstreamCluster"/>, <see cref="DownstreamCluster"/>) open a connection only to
/// read these, so the connection is closed here, whatever closing it throws.
/// </summary>
internal static class AdvertisedNames
{
    /// <summary>The names <paramref name="connection"/> gives, or null when it gives no cluster name; closes it either way.</summary>
    public static async Task<(string ClusterName, string VirtualHost)?> ReadAndCloseAsync(IBrokerConnection connection)
    {
        var named = connection.ClusterName is { Length: > 0 } name ? (name, connection.VirtualHost) : ((string, string)?)null;
        try
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A probe's connection: what closing it throws changes nothing of what it told.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        return named;
    }
}
