namespace Federation.Core.Transport;

/// <summary>
/// A lease held as an exclusive queue (see <see cref="ExclusiveQueueLeases"/>): lost with its connection, released by
/// deleting the queue.
/// </summary>
internal sealed class HeldQueueLease : IBrokerLease
{
    // Releasing on a connection that stopped answering must not hold up a link's stop; the broker drops the queue with
    // the connection anyway.
    private static readonly TimeSpan ReleaseTimeout = TimeSpan.FromSeconds(5);

    private readonly IBrokerConnection connection;
    private readonly TaskCompletionSource lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int released;

    public HeldQueueLease(IBrokerConnection connection, LeaseRequest request)
    {
        this.connection = connection;
        Name = request.Name;
        Holder = request.Holder;
        _ = connection.Completion.ContinueWith(
            static (_, state) => ((TaskCompletionSource)state!).TrySetResult(),
            lost,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    public string Name { get; }

    public string Holder { get; }

    public Task Lost => lost.Task;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref released, 1) != 0)
        {
            return;
        }

        var wasHeld = !lost.Task.IsCompleted;
        lost.TrySetResult();
        if (!wasHeld)
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(ReleaseTimeout);
            await connection.DeleteQueueAsync(Name, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TransportException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection is going or gone, and the broker drops the queue with it.
        }
    }
}
