namespace Federation.Core.Links;

/// <summary>The state of one federation link, as <c>rabbitmqctl federation_status</c> reports it.</summary>
public enum LinkState
{
    /// <summary>Created, connecting or declaring its upstream objects.</summary>
    Starting,
    /// <summary>Consuming from the upstream queue and republishing downstream.</summary>
    Running,
    /// <summary>The last attempt failed; the link retries after <c>reconnect-delay</c>. <see cref="LinkStatus.Error"/> says why.</summary>
    Error,
    /// <summary>Stopped: by reconfiguration, exchange deletion or host shutdown.</summary>
    Shutdown,
    /// <summary>
    /// Another engine with the same configuration runs this link: it holds the link's lease on the downstream broker
    /// (<see cref="LinkStatus.Lease"/>, held by <see cref="LinkStatus.LeaseHolder"/>). This link leaves the upstream alone
    /// and polls the lease, and takes the link over when the other engine stops or dies. Not a failure.
    /// </summary>
    Waiting,
}
