namespace Federation.Core.Transport;

/// <summary>
/// Named, mutually exclusive leases that the broker itself arbitrates, so that several engines with the same
/// configuration never run the same link at once. A transport offers them through <see cref="IBrokerConnection.Leases"/>.
/// </summary>
/// <remarks>
/// <para>
/// The broker decides who holds a lease, never the clients: on AMQP it is an exclusive queue, which the broker gives to
/// one connection and drops when that connection closes or dies; on the in-memory broker it is the same; on NATS it is a key of a
/// JetStream key-value bucket that its holder renews and the server expires. A transport whose
/// broker cannot arbitrate (a NATS server without JetStream) returns <see langword="null"/> from <see cref="IBrokerConnection.Leases"/>, and links
/// over it run without a lease.
/// </para>
/// <para>
/// A lease is tied to the connection it was taken on, or to a time-to-live that the implementation renews: either way
/// <see cref="IBrokerLease.Lost"/> completes when the holder can no longer be sure it holds it, and the holder must stop
/// the work the lease guards at once.
/// </para>
/// </remarks>
public interface IBrokerLeases
{
    /// <summary>
    /// Tries once to take the lease <see cref="LeaseRequest.Name"/>. Never waits for the current holder to let go: the
    /// caller polls, so that it can report that it waits, and on whom.
    /// </summary>
    /// <param name="request">Which lease, and who asks.</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>
    /// The held lease, or, when another connection holds it, the holder's identity if the broker tells it
    /// (<see cref="LeaseAttempt.Holder"/>).
    /// </returns>
    /// <exception cref="TransportException">The broker refused for another reason (permissions, a lost connection).</exception>
    ValueTask<LeaseAttempt> TryAcquireAsync(LeaseRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Where these leases live, in words, when a setting can move them while the instances still meet on one downstream
    /// (a NATS key-value bucket: <c>the JetStream key-value bucket 'federation-leases'</c>); null when every connection to
    /// the downstream shares them (exclusive queues). Instances of one federation compare it in their heartbeats: leases in
    /// different places do not exclude each other, so both instances would run a link.
    /// </summary>
    string? Location => null;
}
