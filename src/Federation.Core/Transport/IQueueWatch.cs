namespace Federation.Core.Transport;

/// <summary>
/// Watches one queue for its deletion by anyone: a client, an operator (<c>rabbitmqctl delete_queue</c>, the management
/// API) or the broker itself. <see cref="ExclusiveQueueLeases"/> watches each lease queue it holds, because a lease queue
/// deleted out from under its holder is a lease another engine can take at once.
/// </summary>
/// <remarks>Disposing it stops watching; the queue is left alone.</remarks>
public interface IQueueWatch : IAsyncDisposable
{
    /// <summary>
    /// Completes when the queue was deleted, or when the watch can no longer tell whether it still exists (its channel
    /// closed, say), which counts the same: the holder must then assume it lost the queue. Never faults.
    /// </summary>
    Task Deleted { get; }
}
