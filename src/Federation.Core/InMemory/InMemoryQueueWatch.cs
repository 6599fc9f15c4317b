using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>
/// Watches one queue for its deletion, as a consumer on RabbitMQ learns it from <c>basic.cancel</c>: the virtual host
/// completes it when it deletes the queue, whoever asked for that.
/// </summary>
internal sealed class InMemoryQueueWatch(BrokerVirtualHost virtualHost, BrokerQueue queue) : IQueueWatch
{
    // Completed under the virtual host lock: continuations must not run there.
    private readonly TaskCompletionSource deleted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Deleted => deleted.Task;

    /// <summary>The queue was deleted. Call under the virtual host lock.</summary>
    public void QueueDeleted() => deleted.TrySetResult();

    public ValueTask DisposeAsync()
    {
        lock (virtualHost.Sync)
        {
            queue.Watches.Remove(this);
        }

        return ValueTask.CompletedTask;
    }
}
