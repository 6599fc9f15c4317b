using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// The lease of a link that the downstream's new cluster name retired (event 2027), taken on the downstream by the
/// instance about to forward and delete that link's old upstream queue (<see cref="RetiredUpstreamQueues"/>): every
/// instance that runs the old link holds that lease while it consumes the queue, so while this one holds it, no instance
/// still under the old name consumes the queue, and no other instance retires it at the same time.
/// </summary>
internal sealed class RetiredLinkLease : IAsyncDisposable
{
    private readonly CancellationTokenSource _lost = new();

    private RetiredLinkLease(DownstreamSession downstream, IBrokerLease? lease, string? holder)
    {
        Downstream = downstream;
        Lease = lease;
        Holder = holder;
        if (lease is not null)
        {
            _ = lease.Lost.ContinueWith(static (_, state) => CancelQuietly((CancellationTokenSource)state!), _lost, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>The downstream session the lease was asked on: the forwarding publishes there, guarded by it.</summary>
    public DownstreamSession Downstream { get; }

    /// <summary>The lease, or null when another holds it or the downstream has no leases (<see cref="Held"/> tells which).</summary>
    public IBrokerLease? Lease { get; }

    /// <summary>Whether the old link's queue may be retired under this: the lease is held, or the downstream has no leases.</summary>
    public bool Held => Lease is not null || Downstream.Connection.Leases is null;

    /// <summary>Who holds the lease instead, when the broker tells.</summary>
    public string? Holder { get; }

    /// <summary>Cancelled once the lease is lost (its connection closed, or a renewal failed): the work it guards stops.</summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>Asks once for the lease of <paramref name="retired"/> on <paramref name="downstream"/>, for <paramref name="holder"/>.</summary>
    public static async Task<RetiredLinkLease> TryTakeAsync(DownstreamSession downstream, LinkDefinition retired, string holder, CancellationToken cancellationToken)
    {
        if (downstream.Connection.Leases is not { } leases)
        {
            return new RetiredLinkLease(downstream, null, null);
        }

        var attempt = await leases.TryAcquireAsync(new LeaseRequest(LinkLease.NameFor(retired), holder), cancellationToken).ConfigureAwait(false);
        return new RetiredLinkLease(downstream, attempt.Lease, attempt.Lease is null ? attempt.Holder : null);
    }

    public async ValueTask DisposeAsync()
    {
        if (Lease is not null)
        {
            await Lease.DisposeAsync().ConfigureAwait(false);
        }

        _lost.Dispose();
    }

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Released: nothing is guarded any more.
        }
    }
}
