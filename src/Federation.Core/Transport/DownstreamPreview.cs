namespace Federation.Core.Transport;

/// <summary>
/// What a downstream URI says about the downstream before any connection to it, so that the engine can list the links it
/// will run while the downstream cannot be reached (see <see cref="ITransport.PreviewDownstream"/>).
/// </summary>
/// <param name="ClusterName">The cluster name a connection would advertise, when the URI sets it (NATS <c>cluster-name</c>); null when only the broker tells.</param>
/// <param name="VirtualHost">The virtual host a connection would report as <see cref="IBrokerConnection.VirtualHost"/>.</param>
/// <param name="Exchanges">The exchanges a connection's <see cref="IBrokerConnection.Topology"/> reports from the start because the URI names them (NATS <c>namespaces</c>); empty when only the broker knows them.</param>
public sealed record DownstreamPreview(string? ClusterName, string VirtualHost, IReadOnlyList<ExchangeSpec> Exchanges);
