using System.Globalization;
using Federation.Core.Transport;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// The set-up of the tests that drive a JetStream connection of the transport directly, as a link's session does, on a
/// nats-server with JetStream of their own (started fresh for each test, stopped by its process).
/// </summary>
/// <param name="serverName">The server's name, which also names its temporary store directory.</param>
public abstract class JetStreamSingleServerTests(string serverName) : IAsyncLifetime
{
    /// <summary>The exchange the queues of <see cref="ConnectWithBoundQueueAsync"/> read; its stream is <see cref="Stream"/>.</summary>
    protected const string Exchange = "orders";

    /// <summary>The stream the connection creates for <see cref="Exchange"/>.</summary>
    protected const string Stream = "federation-" + Exchange;

    /// <summary>The server.</summary>
    protected NatsServerProcess Server { get; private set; } = null!;

    /// <inheritdoc/>
    public async Task InitializeAsync() => Server = await NatsServerProcess.StartJetStreamAsync(serverName);

    /// <inheritdoc/>
    public async Task DisposeAsync() => await Server.DisposeAsync();

    /// <summary>
    /// Opens a JetStream connection with the given ack wait and sets up <paramref name="queue"/> as a link's session does:
    /// declared, bound to its internal exchange <c>"&lt;queue&gt; A"</c>, which <see cref="Exchange"/> binds with <c>#</c>; the
    /// bind creates the durable consumer. On <paramref name="transport"/> when given (what a transport remembers across
    /// its connections), else on a transport of its own. The caller disposes the connection.
    /// </summary>
    protected async Task<IBrokerConnection> ConnectWithBoundQueueAsync(int ackWaitMs, string queue = "q", string? takesOver = null, NatsTransport? transport = null)
    {
        var connection = await (transport ?? new NatsTransport()).ConnectAsync(
            new ConnectionRequest($"{Server.Url}?cluster-name=U&jetstream=true&ack-wait-ms={ackWaitMs.ToString(CultureInfo.InvariantCulture)}", "Federation link test"), CancellationToken.None);
        await BindQueueAsync(connection, queue, takesOver);
        return connection;
    }

    /// <summary>Sets up <paramref name="queue"/> on <paramref name="connection"/> as <see cref="ConnectWithBoundQueueAsync"/> does.</summary>
    protected static async Task BindQueueAsync(IBrokerConnection connection, string queue, string? takesOver = null)
    {
        var internalExchange = queue + " A";
        await connection.DeclareQueueAsync(new QueueSpec(queue) { TakesOver = takesOver }, CancellationToken.None);
        await connection.DeclareExchangeAsync(new ExchangeSpec(Exchange, ExchangeSpec.Types.Topic), CancellationToken.None);
        await connection.DeclareExchangeAsync(new ExchangeSpec(internalExchange, ExchangeSpec.Types.Fanout, Internal: true), CancellationToken.None);
        await connection.BindAsync(new BindingSpec(internalExchange, queue, BindingDestinationKind.Queue, ""), noWait: false, CancellationToken.None);
        await connection.BindAsync(new BindingSpec(Exchange, internalExchange, BindingDestinationKind.Exchange, "#"), noWait: false, CancellationToken.None);
    }
}
