using System.Text;
using Federation.Core.Transport;
using Xunit;

namespace Federation.Transport.Contracts;

/// <summary>
/// The behaviour every transport adapter must show, written against <see cref="ITransport"/> and <see cref="IBrokerConnection"/> only.
/// Derive once per adapter and supply the transport, the broker URI and the two fault injections; every resource name is
/// unique per test, so the suite can run against a shared real broker, and what a test declares is deleted afterwards.
/// </summary>
/// <remarks>
/// The suite reads the <see cref="ITransport.Capabilities"/> that the transport declares: a case that needs a capability
/// checks it where the transport declares it, and otherwise checks the alternative behaviour documented on the flag, so
/// every case runs, and can fail, on every transport.
/// </remarks>
public abstract partial class TransportContractTests : IAsyncLifetime
{
    private readonly List<IBrokerConnection> connections = [];
    private readonly List<string> declaredExchanges = [];
    private readonly List<string> declaredQueues = [];
    private readonly CancellationTokenSource testTimeout = new(TimeSpan.FromMinutes(1));

    // The direct exchange that stands in for the default exchange where the transport has none (see RouteTo).
    private readonly string queueRouter = $"contract.to-queue.{Guid.NewGuid():N}";

    /// <summary>How long a test waits for an asynchronous effect.</summary>
    protected virtual TimeSpan Patience => TimeSpan.FromSeconds(10);

    /// <summary>The transport under test; its <see cref="ITransport.Capabilities"/> decide which behaviour each case expects.</summary>
    protected abstract ITransport Transport { get; }

    /// <summary>The URI of the (one) virtual host under test.</summary>
    protected abstract string BrokerUri { get; }

    /// <summary>The capabilities the transport under test declares.</summary>
    protected TransportCapabilities Capabilities => Transport.Capabilities;

    /// <summary>
    /// Whether the transport under test reports how many messages a queue deletion discarded
    /// (<see cref="IBrokerConnection.DeleteQueueCountingDiscardedAsync"/>); one that cannot tell must report null.
    /// </summary>
    protected virtual bool CountsDiscardedMessages => false;

    /// <summary>Simulates a network failure of every open connection; the broker keeps running and keeps what it has.</summary>
    protected abstract Task DropConnectionsAsync();

    /// <summary>
    /// Stops the broker and starts it again, at the same address, as an operator's restart would: every open connection is
    /// lost, and the broker keeps only what it keeps across restarts.
    /// </summary>
    protected abstract Task RestartBrokerAsync();

    /// <summary>Cancelled when the test runs too long.</summary>
    protected CancellationToken Ct => testTimeout.Token;

    /// <summary>Opens a connection to the (one) virtual host under test through <see cref="Transport"/>.</summary>
    protected ValueTask<IBrokerConnection> ConnectAsync(string connectionName, CancellationToken cancellationToken) =>
        Transport.ConnectAsync(new ConnectionRequest(BrokerUri, connectionName, ObserveTopology: true), cancellationToken);

    /// <summary>Whether the transport under test declares <paramref name="capability"/>.</summary>
    protected bool Has(TransportCapabilities capability) => (Capabilities & capability) == capability;

    /// <summary>A name no other test or run uses.</summary>
    protected virtual string UniqueName(string purpose) => $"contract.{purpose}.{Guid.NewGuid():N}";

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        try
        {
            var cleanup = await OpenAsync("contract-cleanup");
            foreach (var queue in declaredQueues)
            {
                await cleanup.DeleteQueueAsync(queue, Ct);
            }

            foreach (var exchange in declaredExchanges.Append(queueRouter))
            {
                await cleanup.DeleteExchangeAsync(exchange, Ct);
            }
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }

            testTimeout.Dispose();
        }
    }

    /// <summary>Opens a connection that is disposed after the test.</summary>
    protected async Task<IBrokerConnection> OpenAsync(string? connectionName = null)
    {
        var connection = await ConnectAsync(connectionName ?? UniqueName("connection"), Ct);
        connections.Add(connection);
        return connection;
    }

    /// <summary>Declares an exchange with a unique name, deleted after the test.</summary>
    protected async Task<string> DeclareExchangeAsync(IBrokerConnection connection, string type, IReadOnlyDictionary<string, object?>? arguments = null, bool isInternal = false)
    {
        var name = UniqueName(type);
        declaredExchanges.Add(name);
        await connection.DeclareExchangeAsync(new ExchangeSpec(name, type, Durable: false, Internal: isInternal, Arguments: arguments), Ct);
        return name;
    }

    /// <summary>
    /// Declares a queue with a unique name, deleted after the test. Without <see cref="TransportCapabilities.ServerSideTopology"/>
    /// there is no default exchange, so the queue is also bound to this test's direct exchange under its own name: see
    /// <see cref="RouteTo"/>.
    /// </summary>
    protected async Task<string> DeclareQueueAsync(IBrokerConnection connection, IReadOnlyDictionary<string, object?>? arguments = null, bool durable = false)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var name = UniqueName("queue");
        declaredQueues.Add(name);
        await connection.DeclareQueueAsync(new QueueSpec(name, Durable: durable, Arguments: arguments), Ct);
        if (!Has(TransportCapabilities.ServerSideTopology))
        {
            // Declared on each connection that declares queues: without server-side topology, exchanges are per connection.
            await connection.DeclareExchangeAsync(new ExchangeSpec(queueRouter, ExchangeSpec.Types.Direct, Durable: false), Ct);
            await connection.BindAsync(new BindingSpec(queueRouter, name, BindingDestinationKind.Queue, name), noWait: false, Ct);
        }

        return name;
    }

    /// <summary>
    /// Where to publish so that a message goes straight to <paramref name="queue"/> (declared by <see cref="DeclareQueueAsync"/>):
    /// the default exchange with the queue's name as routing key where the transport has one, otherwise this test's direct
    /// exchange, to which the queue is bound under its name.
    /// </summary>
    protected (string Exchange, string RoutingKey) RouteTo(string queue) =>
        Has(TransportCapabilities.ServerSideTopology) ? (string.Empty, queue) : (queueRouter, queue);

    /// <summary>Publishes a small message identified by <paramref name="messageId"/> straight to <paramref name="queue"/> (see <see cref="RouteTo"/>).</summary>
    protected Task PublishToQueueAsync(IMessagePublisher publisher, string queue, string messageId, Dictionary<string, object?>? headers = null)
    {
        var (exchange, routingKey) = RouteTo(queue);
        return PublishAsync(publisher, exchange, routingKey, messageId, headers);
    }

    /// <summary>Remembers a resource the test declared itself, for deletion after the test.</summary>
    protected void DeleteAfterTest(string? exchange = null, string? queue = null)
    {
        if (exchange is not null)
        {
            declaredExchanges.Add(exchange);
        }

        if (queue is not null)
        {
            declaredQueues.Add(queue);
        }
    }

    /// <summary>Opens a confirming publisher.</summary>
    protected async Task<IMessagePublisher> OpenPublisherAsync(IBrokerConnection connection) =>
        await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), Ct);

    /// <summary>Publishes a small message identified by <paramref name="messageId"/>.</summary>
    protected async Task PublishAsync(IMessagePublisher publisher, string exchange, string routingKey, string messageId, Dictionary<string, object?>? headers = null) =>
        await publisher.PublishAsync(exchange, routingKey, new MessageProperties { MessageId = messageId, Headers = headers }, Encoding.UTF8.GetBytes(messageId), Ct);

    /// <summary>
    /// Publishes <c>end-marker</c> straight to <paramref name="queue"/> after earlier publishes and waits for it: messages from one
    /// publisher reach a queue in order, so once the marker arrived, every earlier message that was routed there has arrived too.
    /// This is how tests prove that something was NOT delivered without sleeping.
    /// </summary>
    protected async Task<IReadOnlyList<string?>> ReceivedBeforeMarkerAsync(IMessagePublisher publisher, string queue, DeliveryRecorder recorder)
    {
        ArgumentNullException.ThrowIfNull(recorder);
        const string Marker = "end-marker";
        await PublishToQueueAsync(publisher, queue, Marker);
        await Eventually.TrueAsync(() => recorder.MessageIds.Contains(Marker), Patience, "the end marker should arrive");
        return [.. recorder.MessageIds.TakeWhile(id => id != Marker)];
    }
}
