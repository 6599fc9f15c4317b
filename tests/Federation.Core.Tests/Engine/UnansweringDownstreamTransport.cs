using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Wraps a transport so that, once <see cref="Block"/> is called, the downstream answers nothing, as RabbitMQ does not
/// while it blocks publishing (a memory or disk alarm: it stops reading the connection): a unit's commit, the ledger's
/// close, the publisher's close, a lease's release and the connection's close wait until <see cref="Unblock"/>, whatever
/// bound the client would keep.
/// </summary>
internal sealed class UnansweringDownstreamTransport(ITransport inner, string downstream) : ITransport
{
    private readonly TaskCompletionSource _unblocked = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _blocked;
    private int _commitsHeld;
    private int _releasesHeld;
    private int _closesHeld;

    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    /// <summary>How many commits are waiting for the downstream.</summary>
    public int CommitsHeld => Volatile.Read(ref _commitsHeld);

    /// <summary>How many lease releases are waiting for the downstream.</summary>
    public int ReleasesHeld => Volatile.Read(ref _releasesHeld);

    /// <summary>How many connection closes are waiting for the downstream.</summary>
    public int ClosesHeld => Volatile.Read(ref _closesHeld);

    public void Block() => _blocked = true;

    public void Unblock() => _unblocked.TrySetResult();

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
    {
        var connection = await inner.ConnectAsync(request, cancellationToken);
        return request.Uri.Contains($"//{downstream}/", StringComparison.Ordinal) ? new Connection(connection, this) : connection;
    }

    private Task WaitWhileBlockedAsync() => _blocked ? _unblocked.Task : Task.CompletedTask;

    private Task CountWhileBlockedAsync(ref int held)
    {
        if (!_blocked)
        {
            return Task.CompletedTask;
        }

        Interlocked.Increment(ref held);
        return _unblocked.Task;
    }

    // Declares the interface again, so that its OpenLedgerAsync replaces the interface's default (none) for this class.
    private sealed class Connection(IBrokerConnection inner, UnansweringDownstreamTransport transport) : DelegatingBrokerConnection(inner), IBrokerConnection
    {
        public async ValueTask<IDeliveryLedger?> OpenLedgerAsync(LedgerOptions options, CancellationToken cancellationToken) =>
            await Inner.OpenLedgerAsync(options, cancellationToken) is { } ledger ? new Ledger(ledger, transport) : null;

        public override async ValueTask<IMessagePublisher> OpenPublisherAsync(PublisherOptions options, CancellationToken cancellationToken) =>
            new Publisher(await Inner.OpenPublisherAsync(options, cancellationToken), transport);

        public override IBrokerLeases? Leases => Inner.Leases is { } leases ? new Leases(leases, transport) : null;

        public override async ValueTask DisposeAsync()
        {
            await transport.CountWhileBlockedAsync(ref transport._closesHeld);
            await Inner.DisposeAsync();
        }
    }

    private sealed class Leases(IBrokerLeases inner, UnansweringDownstreamTransport transport) : IBrokerLeases
    {
        public async ValueTask<LeaseAttempt> TryAcquireAsync(LeaseRequest request, CancellationToken cancellationToken)
        {
            var attempt = await inner.TryAcquireAsync(request, cancellationToken);
            return attempt.Lease is { } lease ? LeaseAttempt.Taken(new Lease(lease, transport)) : attempt;
        }
    }

    private sealed class Lease(IBrokerLease inner, UnansweringDownstreamTransport transport) : IBrokerLease
    {
        public string Name => inner.Name;

        public string Holder => inner.Holder;

        public Task Lost => inner.Lost;

        public bool IsHeld => inner.IsHeld;

        public async ValueTask DisposeAsync()
        {
            await transport.CountWhileBlockedAsync(ref transport._releasesHeld);
            await inner.DisposeAsync();
        }
    }

    private sealed class Ledger(IDeliveryLedger inner, UnansweringDownstreamTransport transport) : IDeliveryLedger
    {
        public ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> ReadAsync(CancellationToken cancellationToken) => inner.ReadAsync(cancellationToken);

        public ValueTask CompactAsync(IReadOnlyList<ReadOnlyMemory<byte>> snapshot, CancellationToken cancellationToken) => inner.CompactAsync(snapshot, cancellationToken);

        public async ValueTask PublishAndRecordAsync(IReadOnlyList<LedgerMessage> messages, ReadOnlyMemory<byte> record, CancellationToken cancellationToken)
        {
            if (transport._blocked)
            {
                Interlocked.Increment(ref transport._commitsHeld);
            }

            await transport.WaitWhileBlockedAsync();
            await inner.PublishAndRecordAsync(messages, record, cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            await transport.WaitWhileBlockedAsync();
            await inner.DisposeAsync();
        }
    }

    private sealed class Publisher(IMessagePublisher inner, UnansweringDownstreamTransport transport) : IMessagePublisher
    {
        public ValueTask PublishAsync(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) =>
            inner.PublishAsync(exchange, routingKey, properties, body, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await transport.WaitWhileBlockedAsync();
            await inner.DisposeAsync();
        }
    }
}
