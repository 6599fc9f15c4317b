using System.Text;
using Federation.Core.Transport;
using Xunit;

namespace Federation.Transport.Contracts;

/// <summary>
/// The behaviour every transport adapter must show, written against <see cref="IBrokerConnection"/> only.
/// Derive once per adapter and supply <see cref="ConnectAsync"/>; every resource name is unique per test, so the suite can
/// run against a shared real broker, and what a test declares is deleted afterwards.
/// </summary>
public abstract partial class TransportContractTests : IAsyncLifetime
{
    private readonly List<IBrokerConnection> connections = [];
    private readonly List<string> declaredExchanges = [];
    private readonly List<string> declaredQueues = [];
    private readonly CancellationTokenSource testTimeout = new(TimeSpan.FromMinutes(1));

    /// <summary>How long a test waits for an asynchronous effect.</summary>
    protected virtual TimeSpan Patience => TimeSpan.FromSeconds(10);

    /// <summary>Simulates a network failure of every open connection, or <see langword="null"/> when the adapter cannot; fault tests then do nothing.</summary>
    protected virtual Func<Task>? DropConnections => null;

    /// <summary>Cancelled when the test runs too long.</summary>
    protected CancellationToken Ct => testTimeout.Token;

    /// <summary>Opens a connection to the (one) virtual host under test.</summary>
    protected abstract ValueTask<IBrokerConnection> ConnectAsync(string connectionName, CancellationToken cancellationToken);

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

            foreach (var exchange in declaredExchanges)
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

    /// <summary>Declares a queue with a unique name, deleted after the test.</summary>
    protected async Task<string> DeclareQueueAsync(IBrokerConnection connection, IReadOnlyDictionary<string, object?>? arguments = null)
    {
        var name = UniqueName("queue");
        declaredQueues.Add(name);
        await connection.DeclareQueueAsync(new QueueSpec(name, Durable: false, Arguments: arguments), Ct);
        return name;
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
        await PublishAsync(publisher, string.Empty, queue, Marker);
        await Eventually.TrueAsync(() => recorder.MessageIds.Contains(Marker), Patience, "the end marker should arrive");
        return [.. recorder.MessageIds.TakeWhile(id => id != Marker)];
    }
}
