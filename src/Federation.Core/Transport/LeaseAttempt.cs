namespace Federation.Core.Transport;

/// <summary>The outcome of <see cref="IBrokerLeases.TryAcquireAsync"/>: the lease, or who holds it instead.</summary>
public sealed class LeaseAttempt
{
    private LeaseAttempt(IBrokerLease? lease, string? holder)
    {
        Lease = lease;
        Holder = holder;
    }

    /// <summary>The lease, when it was taken; otherwise <see langword="null"/>.</summary>
    public IBrokerLease? Lease { get; }

    /// <summary>Whether the lease was taken.</summary>
    public bool Acquired => Lease is not null;

    /// <summary>Who holds the lease: this asker when <see cref="Acquired"/>, otherwise the other holder, or <see langword="null"/> when the broker does not tell.</summary>
    public string? Holder { get; }

    /// <summary>The lease was taken.</summary>
    /// <param name="lease">The held lease.</param>
    public static LeaseAttempt Taken(IBrokerLease lease)
    {
        ArgumentNullException.ThrowIfNull(lease);
        return new LeaseAttempt(lease, lease.Holder);
    }

    /// <summary>Another connection holds the lease.</summary>
    /// <param name="holder">Its holder's identity, when the broker tells it; otherwise <see langword="null"/>.</param>
    public static LeaseAttempt HeldElsewhere(string? holder) => new(null, holder);
}
