using Federation.Core.Transport.Messaging;

namespace Federation.Core.Collectives;

/// <summary>One connected period of a broker instance: both connections and their queue subscriptions.</summary>
internal sealed class BrokerSession(ISubjectConnection federation, ISubjectConnection collective) : IAsyncDisposable
{
    private readonly List<ISubjectSubscription> _subscriptions = [];
    private readonly CancellationTokenSource _closing = new();
    private Task? _background;

    public ISubjectConnection Federation { get; } = federation;

    public ISubjectConnection Collective { get; } = collective;

    /// <summary>Completes when either connection is closed or lost.</summary>
    public Task Ended => Task.WhenAny(Federation.Completion, Collective.Completion);

    public void Add(ISubjectSubscription subscription) => _subscriptions.Add(subscription);

    /// <summary>Runs <paramref name="work"/> for as long as the session: its token is cancelled, and the work awaited, on dispose.</summary>
    public void Run(Func<CancellationToken, Task> work) => _background = Task.Run(() => work(_closing.Token), CancellationToken.None);

    /// <summary>
    /// Drains every subscription at once (no new messages; the ones held are still relayed, over connections that stay open)
    /// until <paramref name="cancellationToken"/> fires; then <see cref="DisposeAsync"/> closes the rest.
    /// </summary>
    public async ValueTask DrainAsync(CancellationToken cancellationToken)
    {
        await StopBackgroundAsync().ConfigureAwait(false);
        var subscriptions = _subscriptions.ToList();
        _subscriptions.Clear();
        await Task.WhenAll(subscriptions.Select(s => Ignore(() => s.DrainAsync(cancellationToken)).AsTask())).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopBackgroundAsync().ConfigureAwait(false);
        _closing.Dispose();
        // Unsubscribe first so the queue groups hand new messages to the other instances, then close.
        foreach (var subscription in _subscriptions)
        {
            await Ignore(subscription.DisposeAsync).ConfigureAwait(false);
        }

        await Ignore(Federation.DisposeAsync).ConfigureAwait(false);
        await Ignore(Collective.DisposeAsync).ConfigureAwait(false);
    }

    private async ValueTask StopBackgroundAsync()
    {
        if (!_closing.IsCancellationRequested)
        {
            await _closing.CancelAsync().ConfigureAwait(false);
        }

        if (_background is not null)
        {
            await Ignore(() => new ValueTask(_background)).ConfigureAwait(false);
        }
    }

    private static async ValueTask Ignore(Func<ValueTask> dispose)
    {
        try
        {
            await dispose().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // a lost connection may fail to close; the session is being discarded either way
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
