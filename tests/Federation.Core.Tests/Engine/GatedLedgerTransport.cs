using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Wraps a transport so that a test can stop the links' next ledger commit inside its call, on the caller's thread (the
/// thread of the forward that started the unit loop's run), and see whether the ledger was closed meanwhile.
/// </summary>
internal sealed class GatedLedgerTransport(ITransport inner) : ITransport
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly ManualResetEventSlim _release = new(false);
    private readonly ManualResetEventSlim _entered = new(false);
    private int _armed;
    private int _committing;
    private int _closedWhileCommitting;

    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    /// <summary>Whether a commit is held in the gate.</summary>
    public bool Entered => _entered.IsSet;

    /// <summary>Whether a ledger was closed while a commit was under way (entered and not returned).</summary>
    public bool ClosedWhileCommitting => Volatile.Read(ref _closedWhileCommitting) != 0;

    /// <summary>Holds the next commit in the gate until <see cref="Release"/>.</summary>
    public void Arm() => Volatile.Write(ref _armed, 1);

    /// <summary>Lets the held commit go on.</summary>
    public void Release() => _release.Set();

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
        new GatedConnection(await inner.ConnectAsync(request, cancellationToken), this);

    // Declares the interface again, so that its OpenLedgerAsync replaces the interface's default (none) for this class.
    private sealed class GatedConnection(IBrokerConnection inner, GatedLedgerTransport transport) : DelegatingBrokerConnection(inner), IBrokerConnection
    {
        public async ValueTask<IDeliveryLedger?> OpenLedgerAsync(LedgerOptions options, CancellationToken cancellationToken) =>
            await Inner.OpenLedgerAsync(options, cancellationToken) is { } ledger ? new GatedLedger(ledger, transport) : null;
    }

    private sealed class GatedLedger(IDeliveryLedger inner, GatedLedgerTransport transport) : IDeliveryLedger
    {
        public ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> ReadAsync(CancellationToken cancellationToken) => inner.ReadAsync(cancellationToken);

        public ValueTask CompactAsync(IReadOnlyList<ReadOnlyMemory<byte>> snapshot, CancellationToken cancellationToken) => inner.CompactAsync(snapshot, cancellationToken);

        public async ValueTask PublishAndRecordAsync(IReadOnlyList<LedgerMessage> messages, ReadOnlyMemory<byte> record, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref transport._committing);
            try
            {
                if (Interlocked.Exchange(ref transport._armed, 0) == 1)
                {
                    // Blocks the caller's thread before the first await: the run that called has not returned its task yet.
                    transport._entered.Set();
                    if (!transport._release.Wait(Deadline, CancellationToken.None))
                    {
                        throw new TimeoutException("The test never released the held ledger commit.");
                    }
                }

                await inner.PublishAndRecordAsync(messages, record, cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref transport._committing);
            }
        }

        public ValueTask DisposeAsync()
        {
            if (Volatile.Read(ref transport._committing) != 0)
            {
                Volatile.Write(ref transport._closedWhileCommitting, 1);
            }

            return inner.DisposeAsync();
        }
    }
}
