using Federation.Core.InMemory;
using Federation.Core.Tests.Engine;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Transport;

/// <summary>
/// A waiting instance's lease ask, while another instance holds the lease, reads the lease queue's record and declares
/// nothing. Until 8 Dec 2026 every ask declared the exclusive queue and was refused (AMQP 405 RESOURCE_LOCKED): the refusal
/// closed a channel, and RabbitMQ logged it as a channel error, at every poll of every waiting instance for every link.
/// </summary>
public sealed class LeaseHeldElsewhereAskTests
{
    private const string Lease = "federation: lease held-elsewhere";

    [Fact]
    public async Task An_ask_while_another_instance_holds_the_lease_is_refused_from_the_record_without_a_declaration()
    {
        var broker = new InMemoryBroker("leases");
        await using var holder = await broker.ConnectAsync();
        var held = await holder.Leases!.TryAcquireAsync(new LeaseRequest(Lease, "host-a"), CancellationToken.None);
        Assert.True(held.Acquired);
        await using var counting = new CountingDeclarations(await broker.ConnectAsync());
        var leases = new ExclusiveQueueLeases(counting, (queue, _) => ValueTask.FromResult(broker.GetQueue("/", queue)?.Arguments));

        for (var poll = 0; poll < 3; poll++)
        {
            var attempt = await leases.TryAcquireAsync(new LeaseRequest(Lease, "host-b"), CancellationToken.None);
            Assert.False(attempt.Acquired);
            Assert.Equal("host-a", attempt.Holder);
        }

        Assert.Equal(0, counting.Declarations);

        // Once the holder lets go, the next ask declares the queue and holds the lease.
        await held.Lease!.DisposeAsync();
        var taken = await leases.TryAcquireAsync(new LeaseRequest(Lease, "host-b"), CancellationToken.None);
        Assert.True(taken.Acquired);
        Assert.Equal(1, counting.Declarations);
        await taken.Lease!.DisposeAsync();
    }

    [Fact]
    public async Task An_ask_whose_record_cannot_be_read_asks_the_broker_as_before()
    {
        var broker = new InMemoryBroker("leases");
        await using var holder = await broker.ConnectAsync();
        var held = await holder.Leases!.TryAcquireAsync(new LeaseRequest(Lease, "host-a"), CancellationToken.None);
        await using var counting = new CountingDeclarations(await broker.ConnectAsync());
        var leases = new ExclusiveQueueLeases(counting, (_, _) => throw new TransportException("the management API is not reachable"));

        var attempt = await leases.TryAcquireAsync(new LeaseRequest(Lease, "host-b"), CancellationToken.None);

        Assert.False(attempt.Acquired);
        Assert.Null(attempt.Holder); // refused by the broker; who holds it could not be read
        Assert.Equal(1, counting.Declarations);
        await held.Lease!.DisposeAsync();
    }

    [Fact]
    public async Task An_ask_of_the_holder_named_in_the_record_is_left_to_the_broker()
    {
        // The same holder name on another connection (two instances given one name, or an old connection of this one
        // that the broker has not dropped yet): the record cannot tell them apart, the broker can.
        var broker = new InMemoryBroker("leases");
        await using var holder = await broker.ConnectAsync();
        var held = await holder.Leases!.TryAcquireAsync(new LeaseRequest(Lease, "host-a"), CancellationToken.None);
        await using var counting = new CountingDeclarations(await broker.ConnectAsync());
        var leases = new ExclusiveQueueLeases(counting, (queue, _) => ValueTask.FromResult(broker.GetQueue("/", queue)?.Arguments));

        var attempt = await leases.TryAcquireAsync(new LeaseRequest(Lease, "host-a"), CancellationToken.None);

        Assert.False(attempt.Acquired);
        Assert.Equal(1, counting.Declarations);
        await held.Lease!.DisposeAsync();
    }

    private sealed class CountingDeclarations(IBrokerConnection inner) : DelegatingBrokerConnection(inner)
    {
        private int _declarations;

        public int Declarations => Volatile.Read(ref _declarations);

        public override ValueTask DeclareQueueAsync(QueueSpec queue, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _declarations);
            return base.DeclareQueueAsync(queue, cancellationToken);
        }
    }
}
