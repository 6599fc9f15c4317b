namespace Federation.Core.Transport;

/// <summary>A lease held through <see cref="IBrokerLeases"/>. Disposing it releases it, so that another holder can take it.</summary>
public interface IBrokerLease : IAsyncDisposable
{
    /// <summary>The lease's name, as requested.</summary>
    string Name { get; }

    /// <summary>Who holds it: <see cref="LeaseRequest.Holder"/> of the request that took it.</summary>
    string Holder { get; }

    /// <summary>
    /// Completes when the lease is no longer held: its connection closed or was lost, or (for leases with a time-to-live)
    /// a renewal failed. It also completes when the lease is released by <see cref="IAsyncDisposable.DisposeAsync"/>.
    /// </summary>
    Task Lost { get; }
}
