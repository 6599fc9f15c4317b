namespace Federation.Core.Hops;

/// <summary>One hop of <c>x-received-from</c>: the upstream a message left.</summary>
/// <param name="Uri">Upstream URI without credentials.</param>
/// <param name="Exchange">Upstream exchange name.</param>
/// <param name="Redelivered">The upstream delivery's redelivered flag: a hint of a possible duplicate.</param>
/// <param name="ClusterName">Upstream cluster name; null when the upstream does not advertise one (the field is then omitted).</param>
/// <param name="VirtualHost">Upstream vhost.</param>
public sealed record ReceivedFromEntry(string Uri, string Exchange, bool Redelivered, string? ClusterName, string VirtualHost);
