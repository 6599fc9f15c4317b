using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// The in-memory transport with leases kept in a place of their own, as a NATS downstream URI with another
/// <c>lease-bucket</c> keeps them: every lease is renamed with <paramref name="place"/>, so engines with different places
/// never refuse each other a lease, while they still share the broker, and so hear each other's heartbeats.
/// </summary>
internal sealed class RelocatedLeaseTransport(ITransport inner, string place) : ITransport
{
    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
        new Connection(await inner.ConnectAsync(request, cancellationToken), place);

    private sealed class Connection(IBrokerConnection connection, string place) : DelegatingBrokerConnection(connection)
    {
        public override IBrokerLeases? Leases => Inner.Leases is { } leases ? new Leases(leases, place) : null;
    }

    private sealed class Leases(IBrokerLeases inner, string place) : IBrokerLeases
    {
        public ValueTask<LeaseAttempt> TryAcquireAsync(LeaseRequest request, CancellationToken cancellationToken) =>
            inner.TryAcquireAsync(request with { Name = $"{request.Name} in {place}" }, cancellationToken);

        public string Location => place;
    }
}
