namespace Federation.Core.Transport;

/// <summary>
/// A lease held as an exclusive queue (see <see cref="ExclusiveQueueLeases"/>): lost with its connection or with its queue
/// (deleted by somebody else while the connection lives, as its watch tells), released by deleting the queue.
/// </summary>
internal sealed class HeldQueueLease : IBrokerLease
{
    // Releasing on a connection that stopped answering must not hold up a link's stop; the broker drops the queue with
    // the connection anyway.
    private static readonly TimeSpan ReleaseTimeout = TimeSpan.FromSeconds(5);

    private readonly IBrokerConnection connection;
    private readonly IQueueWatch? watch;
    private readonly TaskCompletionSource lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int released;

    public HeldQueueLease(IBrokerConnection connection, LeaseRequest request, IQueueWatch? watch)
    {
        this.connection = connection;
        this.watch = watch;
        Name = request.Name;
        Holder = request.Holder;
        LoseWhenDone(connection.Completion);
        if (watch is not null)
        {
            LoseWhenDone(watch.Deleted);
        }
    }

    public string Name { get; }

    public string Holder { get; }

    public Task Lost => lost.Task;

    // Also read from what Lost is completed from, which completes it only in a continuation: a link that notices its
    // connection's end first (its session watches the connection too) must already see the lease as gone when it stops.
    public bool IsHeld => !lost.Task.IsCompleted && !connection.Completion.IsCompleted && watch?.Deleted.IsCompleted != true;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref released, 1) != 0)
        {
            return;
        }

        var wasHeld = !lost.Task.IsCompleted;
        lost.TrySetResult();

        // Bounded in real time as a whole, whatever the connection does with the token: ending the watch cancels a
        // consumer, which a broker that stopped answering (frozen, say) never confirms. What is left goes on in the background.
        var releasing = ReleaseAsync(wasHeld);
        await Task.WhenAny(releasing, Task.Delay(ReleaseTimeout)).ConfigureAwait(false);
        if (!releasing.IsCompleted)
        {
            _ = releasing.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task ReleaseAsync(bool wasHeld)
    {
        using var timeout = new CancellationTokenSource(ReleaseTimeout);
        try
        {
            // The watch goes first: it must not report the deletion below, and the queue must still be there for a clean
            // cancel of whatever it watches with.
            if (watch is not null)
            {
                await watch.DisposeAsync().ConfigureAwait(false);
            }

            if (wasHeld)
            {
                await connection.DeleteQueueAsync(Name, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is TransportException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection is going or gone, and the broker drops the queue with it.
        }
    }

    private void LoseWhenDone(Task task) =>
        _ = task.ContinueWith(
            static (_, state) => ((TaskCompletionSource)state!).TrySetResult(),
            lost,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
}
