using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// The in-memory transport with leases that can lapse without their connection closing, as a time-to-live lease does for
/// a process paused past it (SIGSTOP): <see cref="Lapse"/> makes every lease taken so far report <c>IsHeld = false</c>
/// while its <c>Lost</c> stays pending (the renewal timer has not run yet), and, while <see cref="RefuseNew"/> is set,
/// new attempts find the lease held elsewhere.
/// </summary>
internal sealed class LapsingLeaseTransport(ITransport inner) : ITransport
{
    private int _generation;

    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    /// <summary>While set, every lease attempt is refused, as while another engine holds it.</summary>
    public volatile bool RefuseNew;

    /// <summary>How many attempts were refused.</summary>
    public int Refused;

    /// <summary>Every lease taken until now has lapsed.</summary>
    public void Lapse() => Interlocked.Increment(ref _generation);

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
        new Connection(await inner.ConnectAsync(request, cancellationToken), this);

    private sealed class Connection(IBrokerConnection connection, LapsingLeaseTransport owner) : DelegatingBrokerConnection(connection)
    {
        public override IBrokerLeases? Leases => Inner.Leases is { } leases ? new Leases(leases, owner) : null;
    }

    private sealed class Leases(IBrokerLeases inner, LapsingLeaseTransport owner) : IBrokerLeases
    {
        public async ValueTask<LeaseAttempt> TryAcquireAsync(LeaseRequest request, CancellationToken cancellationToken)
        {
            if (owner.RefuseNew)
            {
                Interlocked.Increment(ref owner.Refused);
                return LeaseAttempt.HeldElsewhere("another-engine");
            }

            var attempt = await inner.TryAcquireAsync(request, cancellationToken);
            return attempt.Lease is { } lease ? LeaseAttempt.Taken(new Lease(lease, owner, Volatile.Read(ref owner._generation))) : attempt;
        }
    }

    private sealed class Lease(IBrokerLease inner, LapsingLeaseTransport owner, int generation) : IBrokerLease
    {
        public string Name => inner.Name;

        public string Holder => inner.Holder;

        public Task Lost => inner.Lost;

        public bool IsHeld => inner.IsHeld && Volatile.Read(ref owner._generation) == generation;

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
