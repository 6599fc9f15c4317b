namespace Federation.Core.Links.Ownership;

/// <summary>
/// A link whose lease this instance holds while another live instance's heartbeats say that it holds it too (or that this
/// stopped). The broker gives a lease to one holder, so two holders of one link mean that their leases are different
/// objects: another <c>lease-bucket</c> or other lease settings on one instance's downstream URI, or another configuration
/// that names the link alike. Both then run the link, and every message crosses it twice.
/// </summary>
/// <param name="LinkId">The link.</param>
/// <param name="LeaseName">The lease this instance holds for it.</param>
/// <param name="Others">The other instances that say they hold it; null once none does any more.</param>
internal sealed record SharedHolding(string LinkId, string LeaseName, IReadOnlyList<string>? Others);
