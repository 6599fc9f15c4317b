using Federation.Core.Links;

namespace Federation.Core;

/// <summary>Link status and control, as <c>rabbitmqctl federation_status</c> and <c>restart_federation_link</c> offer.</summary>
public interface IFederationStatus
{
    /// <summary>The effective cluster name of this (downstream) side, once connected.</summary>
    string? ClusterName { get; }

    /// <summary>Whether the downstream broker is connected.</summary>
    bool IsDownstreamConnected { get; }

    /// <summary>
    /// While the downstream is not connected, why its last connection attempt failed (credentials and URIs redacted), such
    /// as refused credentials or an unreachable management API; <see langword="null"/> when connected or not known.
    /// </summary>
    string? DownstreamError => null;

    /// <summary>
    /// While the connected downstream blocks what the links publish (a memory or disk alarm on RabbitMQ), the broker's reason,
    /// such as "low on memory"; <see langword="null"/> otherwise. The links then stay running but forward nothing.
    /// </summary>
    string? DownstreamBlocked => null;

    /// <summary>
    /// While the connected downstream's topology cannot be observed as its URI asks (on NATS a <c>monitor-port</c> that
    /// cannot be read, or that answers for another server), why; <see langword="null"/> otherwise. The links then stay
    /// running, but nothing is federated for the exchanges, bindings or subscriptions that go unseen.
    /// </summary>
    string? DownstreamTopologyUnobserved => null;

    /// <summary>
    /// While another live instance of the federation announces itself under this instance's <c>InstanceName</c> (an
    /// operator's mistake), what is wrong and how to fix it, naming the option and the name; <see langword="null"/> otherwise.
    /// Of the runs that share a name the one that started first runs the links and the others stand aside, running none
    /// until it stops; health is degraded on each of them meanwhile.
    /// </summary>
    string? InstanceConflict => null;

    /// <summary>
    /// While this instance, with the downstream connected, has not heard its own presence heartbeat come back through the
    /// downstream for longer than the presence timeout (a frozen or half-open connection, a partition), what that means;
    /// <see langword="null"/> otherwise, and always for an instance without leases or spreading (it sends no heartbeats).
    /// Its links may read as running and forward nothing meanwhile, and the other instances take them over; health is
    /// degraded.
    /// </summary>
    string? OwnHeartbeatsUnheard => null;

    /// <summary>
    /// Every link, ordered by exchange, then upstream. While the downstream is not connected this includes the links that
    /// wait for it to start (<see cref="LinkState.Starting"/>, with the ids they will have), as far as they are known
    /// without it: those the engine ran on the same downstream before (a reload with a new password, a lost connection),
    /// those on the exchanges its URI names (NATS <c>namespaces</c>) or an explicit topology declares. Links follow the
    /// downstream's exchanges, so on a downstream never reached whose exchanges only the broker knows (AMQP observing
    /// its topology) none is listed until it is; <see cref="DownstreamError"/> says why. Every link listed while the
    /// downstream is not connected shows why in <see cref="LinkStatus.Error"/> unless it has an error of its own.
    /// </summary>
    IReadOnlyList<LinkStatus> GetLinks();

    /// <summary>The link with <paramref name="id"/>, or <see langword="null"/> when there is none.</summary>
    LinkStatus? FindLink(string id);

    /// <summary>Restarts one link at once, keeping its upstream queue. Returns false when no link has <paramref name="id"/>.</summary>
    Task<bool> RestartLinkAsync(string id, CancellationToken cancellationToken);
}
