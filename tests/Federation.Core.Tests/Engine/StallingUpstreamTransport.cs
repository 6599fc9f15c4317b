using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Passes everything through, except that once armed it holds one step of a link's next run against the upstream broker
/// until that run is cancelled (by a stop, say): its connect, or its declaration of the sentinel exchange (a step of the
/// session's set-up before the internal exchange's generation is chosen). <see cref="Stalled"/> says when it holds one.
/// </summary>
internal sealed class StallingUpstreamTransport(ITransport inner, string upstreamBroker) : ITransport
{
    private int _stallConnect;
    private int _stallSentinel;
    private TaskCompletionSource _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    /// <summary>Completes when an armed step is held.</summary>
    public Task Stalled => Volatile.Read(ref _stalled).Task;

    /// <summary>Holds the next connect to the upstream broker (only that one).</summary>
    public void StallNextConnect() => Arm(ref _stallConnect);

    /// <summary>Holds the next declaration of a sentinel exchange on the upstream broker (only that one).</summary>
    public void StallNextSentinelDeclaration() => Arm(ref _stallSentinel);

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
    {
        if (!request.Uri.StartsWith($"memory://{upstreamBroker}/", StringComparison.Ordinal))
        {
            return await inner.ConnectAsync(request, cancellationToken);
        }

        if (Interlocked.Exchange(ref _stallConnect, 0) == 1)
        {
            await HoldAsync(cancellationToken);
        }

        return new Connection(await inner.ConnectAsync(request, cancellationToken), this);
    }

    private void Arm(ref int step)
    {
        Volatile.Write(ref _stalled, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        Volatile.Write(ref step, 1);
    }

    private async Task HoldAsync(CancellationToken cancellationToken)
    {
        Volatile.Read(ref _stalled).TrySetResult();
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }

    private sealed class Connection(IBrokerConnection inner, StallingUpstreamTransport transport) : DelegatingBrokerConnection(inner)
    {
        public override async ValueTask DeclareExchangeAsync(ExchangeSpec exchange, CancellationToken cancellationToken)
        {
            if (exchange.Name.EndsWith(" sentinel", StringComparison.Ordinal) && Interlocked.Exchange(ref transport._stallSentinel, 0) == 1)
            {
                await transport.HoldAsync(cancellationToken);
            }

            await Inner.DeclareExchangeAsync(exchange, cancellationToken);
        }
    }
}
