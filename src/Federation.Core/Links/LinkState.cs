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
}
