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

    /// <summary>Every link, ordered by exchange, then upstream.</summary>
    IReadOnlyList<LinkStatus> GetLinks();

    /// <summary>The link with <paramref name="id"/>, or <see langword="null"/> when there is none.</summary>
    LinkStatus? FindLink(string id);

    /// <summary>Restarts one link at once, keeping its upstream queue. Returns false when no link has <paramref name="id"/>.</summary>
    Task<bool> RestartLinkAsync(string id, CancellationToken cancellationToken);
}
