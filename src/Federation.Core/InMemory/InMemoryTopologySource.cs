using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>The topology of a connection's virtual host. Subscriptions end when the connection closes.</summary>
internal sealed class InMemoryTopologySource(InMemoryConnection connection) : ITopologySource
{
    public IDisposable Subscribe(Action<TopologyChange> onChange)
    {
        ArgumentNullException.ThrowIfNull(onChange);
        return connection.Host.Subscribe(onChange, connection);
    }

    public ValueTask<TopologySnapshot> GetSnapshotAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TopologySnapshot>(cancellationToken);
        }

        if (connection.IsClosed)
        {
            return ValueTask.FromException<TopologySnapshot>(connection.CreateClosedException());
        }

        return ValueTask.FromResult(connection.Host.GetSnapshot());
    }
}
