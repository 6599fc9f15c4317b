using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Wraps a transport so that the links' first ledger unit with messages is committed whole and the call then fails with a
/// plain <see cref="TransportException"/>, as AMQP reports a tx.commit a blocked broker left unanswered past the client's
/// timeout and completed later. Counts the record-only writes (revocations) that follow.
/// </summary>
internal sealed class UnansweredCommitLedgerTransport(ITransport inner) : ITransport
{
    private int _armed = 1;
    private int _unanswered;
    private int _recordOnlyWrites;

    /// <summary>Whether the unanswered commit happened.</summary>
    public bool Unanswered => Volatile.Read(ref _unanswered) != 0;

    /// <summary>How many units without messages (revocations) were written after it.</summary>
    public int RecordOnlyWrites => Volatile.Read(ref _recordOnlyWrites);

    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
        new Connection(await inner.ConnectAsync(request, cancellationToken), this);

    // Declares the interface again, so that its OpenLedgerAsync replaces the interface's default (none) for this class.
    private sealed class Connection(IBrokerConnection inner, UnansweredCommitLedgerTransport transport) : DelegatingBrokerConnection(inner), IBrokerConnection
    {
        public async ValueTask<IDeliveryLedger?> OpenLedgerAsync(LedgerOptions options, CancellationToken cancellationToken) =>
            await Inner.OpenLedgerAsync(options, cancellationToken) is { } ledger ? new Ledger(ledger, transport) : null;
    }

    private sealed class Ledger(IDeliveryLedger inner, UnansweredCommitLedgerTransport transport) : IDeliveryLedger
    {
        public ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> ReadAsync(CancellationToken cancellationToken) => inner.ReadAsync(cancellationToken);

        public ValueTask CompactAsync(IReadOnlyList<ReadOnlyMemory<byte>> snapshot, CancellationToken cancellationToken) => inner.CompactAsync(snapshot, cancellationToken);

        public async ValueTask PublishAndRecordAsync(IReadOnlyList<LedgerMessage> messages, ReadOnlyMemory<byte> record, CancellationToken cancellationToken)
        {
            if (messages.Count == 0 && transport.Unanswered)
            {
                Interlocked.Increment(ref transport._recordOnlyWrites);
            }

            await inner.PublishAndRecordAsync(messages, record, cancellationToken);
            if (messages.Count > 0 && Interlocked.Exchange(ref transport._armed, 0) == 1)
            {
                Volatile.Write(ref transport._unanswered, 1);
                throw new TransportException("The downstream did not answer the commit of a unit in time (simulated).");
            }
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
