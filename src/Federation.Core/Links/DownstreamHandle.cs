using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// The current downstream connection, shared by every link. While the downstream is being reconnected, links wait on
/// <see cref="Current"/> instead of failing, and continue with the new connection.
/// </summary>
internal sealed class DownstreamHandle
{
    private volatile TaskCompletionSource<DownstreamSession> _current = NewSource();

    /// <summary>Completes with the live downstream session.</summary>
    public Task<DownstreamSession> Current => _current.Task;

    /// <summary>Publishes a freshly connected session.</summary>
    public void Set(DownstreamSession session)
    {
        if (!_current.TrySetResult(session))
        {
            _current = NewSource();
            _current.TrySetResult(session);
        }
    }

    /// <summary>Marks the session as gone; later waiters block until <see cref="Set"/>.</summary>
    public void Invalidate()
    {
        if (_current.Task.IsCompleted)
        {
            _current = NewSource();
        }
    }

    private static TaskCompletionSource<DownstreamSession> NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>A connected downstream and the identity the links use for it.</summary>
/// <param name="Connection">The downstream connection.</param>
/// <param name="ClusterName">The effective (configured or advertised) cluster name.</param>
/// <param name="VirtualHost">The downstream vhost.</param>
internal sealed record DownstreamSession(IBrokerConnection Connection, string ClusterName, string VirtualHost);
