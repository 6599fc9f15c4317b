using System.Collections.Concurrent;
using Federation.Core.InMemory;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// One engine's view of the in-memory transport, as a process sees the network: <see cref="Crash"/> loses every
/// connection it opened at once (so the broker drops its exclusive queues, as RabbitMQ does when a process is killed) and
/// refuses new ones. Every upstream consumer it opens is counted in a census shared by the engines under test.
/// </summary>
internal sealed class CrashableTransport(InMemoryTransport inner, ConsumerCensus census, string name) : ITransport
{
    private readonly ConcurrentQueue<InMemoryConnection> _connections = new();
    private volatile bool _crashed;
    private volatile bool _silenced;
    private volatile string? _unreachable;
    private volatile bool _lagging;
    private volatile SentHeartbeat? _lastHeartbeat;
    private int _heartbeats;

    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
    {
        if (_crashed)
        {
            throw new BrokerUnreachableException($"{name} is dead");
        }

        if (_unreachable is { } broker && request.Uri.StartsWith(Testbed.Uri(broker), StringComparison.Ordinal))
        {
            throw new BrokerUnreachableException($"{name} cannot reach {broker}");
        }

        var connection = (InMemoryConnection)await inner.ConnectAsync(request, cancellationToken);
        _connections.Enqueue(connection);
        return new CountedConnection(connection, census, name, this);
    }

    /// <summary>Dies: every connection is lost, and no new one opens.</summary>
    public void Crash()
    {
        _crashed = true;
        LoseConnections(_ => true);

        // A killed process's consumers are gone with it. Here its handlers live on until they return (one may wait on a
        // fake-clock timer for a long time), though the broker has detached them and nothing they do reaches a broker.
        census.Forget(name);
    }

    /// <summary>
    /// Sends no more heartbeats, while every connection stays open and its leases held: as a paused process (SIGSTOP) looks
    /// to the others until the broker gives its connections up.
    /// </summary>
    public void Silence() => _silenced = true;

    /// <summary>Whether <see cref="Silence"/> was called.</summary>
    public bool Silenced => _silenced;

    /// <summary>
    /// From now on until <see cref="CatchUpHeartbeats"/>, every heartbeat says what the last one before said (which links
    /// the instance holds, waits for...): the others hear it live, and its claims lag its links as a heartbeat that lags a
    /// release by up to one interval does, for as long as the test needs.
    /// </summary>
    public void LagHeartbeats() => _lagging = true;

    /// <summary>Heartbeats say what they should again (see <see cref="LagHeartbeats"/>).</summary>
    public void CatchUpHeartbeats() => _lagging = false;

    /// <summary>
    /// The heartbeat to publish in place of <paramref name="properties"/>: the last one before <see cref="LagHeartbeats"/>
    /// while lagging, else itself (remembered). A "leaving" message is never replaced.
    /// </summary>
    public MessageProperties Heartbeat(MessageProperties properties, ReadOnlyMemory<byte> body)
    {
        if (Federation.Core.Links.Ownership.PresenceMessage.Decode(body.Span, properties.Headers) is not { Leaving: false } message)
        {
            return properties;
        }

        Interlocked.Increment(ref _heartbeats);
        if (_lagging && _lastHeartbeat is { } last)
        {
            return last.Properties;
        }

        _lastHeartbeat = new SentHeartbeat(properties, message);
        return properties;
    }

    /// <summary>How many heartbeats (not "leaving" messages) the instance has published, lagged or not.</summary>
    public int HeartbeatsSent => Volatile.Read(ref _heartbeats);

    /// <summary>What the last heartbeat published as it was (not lagged) said; null before the first.</summary>
    public Federation.Core.Links.Ownership.PresenceMessage? LastHeartbeat => _lastHeartbeat?.Message;

    /// <summary>Refuses new connections to <paramref name="broker"/> (a network cut) until called with null; open ones stay.</summary>
    public void Unreachable(string? broker) => _unreachable = broker;

    /// <summary>Loses the open connections to <paramref name="broker"/>; new ones open again.</summary>
    public void LoseConnectionsTo(string broker) => LoseConnections(c => c.Broker.Name == broker);

    private void LoseConnections(Func<InMemoryConnection, bool> which)
    {
        foreach (var connection in _connections.Where(which))
        {
            connection.Close(new ConnectionLostException($"{name} lost its connection '{connection.Name}'"));
        }
    }

    private sealed record SentHeartbeat(MessageProperties Properties, Federation.Core.Links.Ownership.PresenceMessage Message);

    private sealed class CountedConnection(IBrokerConnection inner, ConsumerCensus census, string owner, CrashableTransport transport) : DelegatingBrokerConnection(inner)
    {
        private static readonly string PresencePrefix = Federation.Core.Links.Ownership.InstancePresence.QueueFor(string.Empty);

        public override async ValueTask<IMessagePublisher> OpenPublisherAsync(PublisherOptions options, CancellationToken cancellationToken) =>
            new SilenceablePublisher(await Inner.OpenPublisherAsync(options, cancellationToken), transport);

        public override async ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken)
        {
            var consumer = await Inner.ConsumeAsync(queue, options, handler, cancellationToken);

            // Each instance's presence queue is its own; the census is about the links' consumers.
            if (!queue.StartsWith(PresencePrefix, StringComparison.Ordinal))
            {
                census.Opened(queue, owner, consumer.Completion);
            }

            return consumer;
        }
    }
}

/// <summary>Swallows heartbeats (publishes to a presence exchange) once its transport is silenced, and lags them while it lags them.</summary>
internal sealed class SilenceablePublisher(IMessagePublisher inner, CrashableTransport transport) : IMessagePublisher
{
    public ValueTask PublishAsync(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (!exchange.StartsWith(Federation.Core.Model.FederationDefinitions.PresenceExchangePrefix, StringComparison.Ordinal))
        {
            return inner.PublishAsync(exchange, routingKey, properties, body, cancellationToken);
        }

        if (transport.Silenced)
        {
            return ValueTask.CompletedTask;
        }

        // Beacons (to the exchange all federations share) are no heartbeats: they pass as they are.
        return exchange == Federation.Core.Links.Ownership.FederationBeacon.Exchange
            ? inner.PublishAsync(exchange, routingKey, properties, body, cancellationToken)
            : inner.PublishAsync(exchange, routingKey, transport.Heartbeat(properties, body), body, cancellationToken);
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

/// <summary>Counts the consumers open at once on each queue, over the whole test, and who opened them.</summary>
/// <remarks>
/// A consumer counts as open until its <see cref="IMessageConsumer.Completion"/> has ended. That state is read directly
/// rather than through a continuation: the in-memory consumer runs continuations asynchronously, so a continuation could
/// still be queued when the next consumer opens, and the census would see two at once where there never were.
/// </remarks>
internal sealed class ConsumerCensus
{
    private readonly Lock _sync = new();
    private readonly Dictionary<string, List<(Task Completion, string Owner)>> _open = new(StringComparer.Ordinal);
    private readonly List<string> _owners = [];
    private readonly Dictionary<string, int> _mostOn = new(StringComparer.Ordinal);

    /// <summary>The most consumers that were open at once on any one queue.</summary>
    public int MostAtOnce { get; private set; }

    /// <summary>The queue and the owners of the consumers at <see cref="MostAtOnce"/>, for a failure's message.</summary>
    public string? WorstOverlap { get; private set; }

    /// <summary>
    /// Fails unless exactly one consumer was ever open at a time on each queue that had one (and some queue had one),
    /// naming the queue and the owners of the worst overlap.
    /// </summary>
    /// <param name="when">What the test was doing, for the failure's message.</param>
    public void AssertOneAtATime(string? when = null)
    {
        lock (_sync)
        {
            Xunit.Assert.True(MostAtOnce == 1, $"{(when is null ? "" : when + ": ")}{MostAtOnce} consumers at once on {WorstOverlap ?? "no queue"}");
        }
    }

    /// <summary>Who opened each consumer, in order.</summary>
    public IReadOnlyList<string> Owners
    {
        get
        {
            lock (_sync)
            {
                return [.. _owners];
            }
        }
    }

    /// <summary>The most consumers that were open at once on <paramref name="queue"/>.</summary>
    public int MostAtOnceOn(string queue)
    {
        lock (_sync)
        {
            return _mostOn.GetValueOrDefault(queue);
        }
    }

    /// <summary>Consumers open now on <paramref name="queue"/>.</summary>
    public int OpenOn(string queue)
    {
        lock (_sync)
        {
            return _open.TryGetValue(queue, out var open) ? open.Count(consumer => !consumer.Completion.IsCompleted) : 0;
        }
    }

    /// <summary>Counts <paramref name="owner"/>'s consumers as closed: it died (see <see cref="CrashableTransport.Crash"/>).</summary>
    public void Forget(string owner)
    {
        lock (_sync)
        {
            foreach (var open in _open.Values)
            {
                open.RemoveAll(consumer => consumer.Owner == owner);
            }
        }
    }

    public void Opened(string queue, string owner, Task completion)
    {
        lock (_sync)
        {
            if (!_open.TryGetValue(queue, out var open))
            {
                _open[queue] = open = [];
            }

            open.RemoveAll(earlier => earlier.Completion.IsCompleted);
            open.Add((completion, owner));
            _owners.Add(owner);
            _mostOn[queue] = Math.Max(_mostOn.GetValueOrDefault(queue), open.Count);
            if (open.Count > MostAtOnce)
            {
                MostAtOnce = open.Count;
                WorstOverlap = $"{queue}: {string.Join(", ", open.Select(consumer => consumer.Owner))}";
            }
        }
    }
}
