using System.Threading.Channels;
using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>
/// One <see cref="ITopologySource.Subscribe"/> registration. Changes are posted in serial order under the virtual host lock
/// into an unbounded channel (never blocking the broker) and handed to the callback by a background pump, outside any lock.
/// </summary>
internal sealed class TopologySubscription : IDisposable
{
    private readonly BrokerVirtualHost virtualHost;
    private readonly Action<TopologyChange> onChange;
    private readonly Channel<TopologyChange> changes = Channel.CreateUnbounded<TopologyChange>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private volatile bool stopped;

    public TopologySubscription(BrokerVirtualHost virtualHost, InMemoryConnection connection, Action<TopologyChange> onChange)
    {
        this.virtualHost = virtualHost;
        this.onChange = onChange;
        Connection = connection;
        Pump = Task.Run(PumpAsync);
    }

    public InMemoryConnection Connection { get; }

    /// <summary>Completes once no further callback will run.</summary>
    public Task Pump { get; }

    /// <summary>Queues a change for the callback. Call under the virtual host lock, in serial order.</summary>
    public void Post(TopologyChange change) => changes.Writer.TryWrite(change);

    /// <summary>Stops notifications, including changes already queued. Call under the virtual host lock.</summary>
    public void Complete()
    {
        stopped = true;
        changes.Writer.TryComplete();
    }

    public void Dispose() => virtualHost.Unsubscribe(this);

    private async Task PumpAsync()
    {
        await foreach (var change in changes.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            if (stopped)
            {
                return;
            }

            try
            {
                onChange(change);
            }
#pragma warning disable CA1031 // One faulty subscriber must neither stop its own later notifications nor surface on a broker thread.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }
}
