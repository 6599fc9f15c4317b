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

    /// <summary>
    /// Whether the lease may be relied on at this moment, which a link asks before each forward (fencing). A lease with a
    /// time-to-live answers from the clock, how long ago its last renewal got through: a process that was paused
    /// (<c>SIGSTOP</c>, a long pause of the machine) past that learns it the moment it resumes, before its renewal timer
    /// runs, and so does not forward what it had received before the pause while another holder runs the link. The default
    /// is <c>!Lost.IsCompleted</c>, right for leases that end with their connection. Cheap; any thread.
    /// </summary>
    bool IsHeld => !Lost.IsCompleted;
}
