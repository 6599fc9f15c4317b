using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Wraps a transport so that the links' first ledger unit of more than <see cref="Kept"/> messages (none by default) is committed in part,
/// as RabbitMQ commits a transaction one of whose queues refuses a message: the unit's record and its first
/// <see cref="Kept"/> messages are stored, the others are not, and the call fails with
/// <see cref="UnitPartlyCommittedException"/>. The next <see cref="FailedRevocations"/> record-only writes (the link's
/// revocation) fail as if the connection had gone.
/// </summary>
internal sealed class PartlyCommittingLedgerTransport(ITransport inner) : ITransport
{
    private int _armed = 1;
    private int _revocationFailures;
    private int _partlyCommitted;

    /// <summary>How many messages of the partly committed unit are stored.</summary>
    public int Kept { get; init; }

    /// <summary>How many record-only writes fail after the partial commit.</summary>
    public int FailedRevocations { get; init; }

    /// <summary>Whether the partial commit happened.</summary>
    public bool PartlyCommitted => Volatile.Read(ref _partlyCommitted) != 0;

    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
        new Connection(await inner.ConnectAsync(request, cancellationToken), this);

    // Declares the interface again, so that its OpenLedgerAsync replaces the interface's default (none) for this class.
    private sealed class Connection(IBrokerConnection inner, PartlyCommittingLedgerTransport transport) : DelegatingBrokerConnection(inner), IBrokerConnection
    {
        public async ValueTask<IDeliveryLedger?> OpenLedgerAsync(LedgerOptions options, CancellationToken cancellationToken) =>
            await Inner.OpenLedgerAsync(options, cancellationToken) is { } ledger ? new Ledger(ledger, transport) : null;
    }

    private sealed class Ledger(IDeliveryLedger inner, PartlyCommittingLedgerTransport transport) : IDeliveryLedger
    {
        public ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> ReadAsync(CancellationToken cancellationToken) => inner.ReadAsync(cancellationToken);

        public ValueTask CompactAsync(IReadOnlyList<ReadOnlyMemory<byte>> snapshot, CancellationToken cancellationToken) => inner.CompactAsync(snapshot, cancellationToken);

        public async ValueTask PublishAndRecordAsync(IReadOnlyList<LedgerMessage> messages, ReadOnlyMemory<byte> record, CancellationToken cancellationToken)
        {
            if (messages.Count > transport.Kept && Interlocked.Exchange(ref transport._armed, 0) == 1)
            {
                await inner.PublishAndRecordAsync([.. messages.Take(transport.Kept)], record, cancellationToken);
                Volatile.Write(ref transport._partlyCommitted, 1);
                throw new UnitPartlyCommittedException("406 PRECONDITION_FAILED - partial tx completion (simulated)");
            }

            if (messages.Count == 0 && transport.PartlyCommitted && Interlocked.Increment(ref transport._revocationFailures) <= transport.FailedRevocations)
            {
                throw new ConnectionLostException("The connection went before the revocation was committed (simulated).");
            }

            await inner.PublishAndRecordAsync(messages, record, cancellationToken);
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
