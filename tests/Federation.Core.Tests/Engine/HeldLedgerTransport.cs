using System.Collections.Concurrent;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Wraps a transport so that a test decides when each of the links' ledger commits (a unit of messages and its record)
/// goes ahead; until then nothing of the unit reaches the downstream. Everything else passes through.
/// </summary>
internal sealed class HeldLedgerTransport(ITransport inner) : ITransport
{
    private readonly ConcurrentQueue<TaskCompletionSource> _held = new();

    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    /// <summary>Commits waiting for the test, in call order (released ones included).</summary>
    public IReadOnlyList<TaskCompletionSource> Held => [.. _held];

    /// <summary>Lets every commit held so far go ahead.</summary>
    public void ReleaseAll()
    {
        foreach (var commit in _held)
        {
            commit.TrySetResult();
        }
    }

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
        new HoldingConnection(await inner.ConnectAsync(request, cancellationToken), this);

    // Declares the interface again, so that its OpenLedgerAsync replaces the interface's default (none) for this class.
    private sealed class HoldingConnection(IBrokerConnection inner, HeldLedgerTransport transport) : DelegatingBrokerConnection(inner), IBrokerConnection
    {
        public async ValueTask<IDeliveryLedger?> OpenLedgerAsync(LedgerOptions options, CancellationToken cancellationToken) =>
            await Inner.OpenLedgerAsync(options, cancellationToken) is { } ledger ? new HoldingLedger(ledger, transport) : null;
    }

    private sealed class HoldingLedger(IDeliveryLedger inner, HeldLedgerTransport transport) : IDeliveryLedger
    {
        public ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> ReadAsync(CancellationToken cancellationToken) => inner.ReadAsync(cancellationToken);

        public ValueTask CompactAsync(IReadOnlyList<ReadOnlyMemory<byte>> snapshot, CancellationToken cancellationToken) => inner.CompactAsync(snapshot, cancellationToken);

        public async ValueTask PublishAndRecordAsync(IReadOnlyList<LedgerMessage> messages, ReadOnlyMemory<byte> record, CancellationToken cancellationToken)
        {
            var commit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            transport._held.Enqueue(commit);
            await commit.Task;
            await inner.PublishAndRecordAsync(messages, record, cancellationToken);
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
