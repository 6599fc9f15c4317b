using Federation.Core.InMemory;
using Federation.Core.Tests.Engine;
using Federation.Core.Transport;
using Federation.Transport.Contracts;

namespace Federation.Core.Tests.Transport;

/// <summary>
/// A lease ask given up on (its link stopped, the engine stopping) after the broker declared the lease's exclusive queue,
/// but before its reply arrived, left the queue owned by the connection with no lease object to release it: every other
/// instance then saw the lease held until that connection closed. The queue is now given back once the reply arrives.
/// </summary>
public sealed class LeaseAskCancelledAfterDeclareTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private const string Lease = "federation: lease cancelled-ask";

    [Fact]
    public async Task A_queue_declared_for_a_cancelled_ask_is_given_back_so_another_instance_takes_the_lease()
    {
        var broker = new InMemoryBroker("leases");
        var slow = new SlowReplyConnection(await broker.ConnectAsync());
        var leases = new ExclusiveQueueLeases(slow);
        var other = await broker.ConnectAsync();
        using var cancel = new CancellationTokenSource();

        var asking = leases.TryAcquireAsync(new LeaseRequest(Lease, "host-a"), cancel.Token).AsTask();
        await Eventually.TrueAsync(() => broker.QueueExists("/", Lease), Patience, "the broker declared the lease queue");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => asking.WaitAsync(Patience));
        slow.Reply(); // the declare-ok arrives after the ask was given up on

        // Polled with a deadline: before, the lease stayed held by the connection, with nobody to release it.
        var deadline = DateTime.UtcNow + Patience;
        LeaseAttempt attempt;
        while (!(attempt = await other.Leases!.TryAcquireAsync(new LeaseRequest(Lease, "host-b"), CancellationToken.None)).Acquired)
        {
            Assert.True(DateTime.UtcNow < deadline, $"another instance never took the lease (held by '{attempt.Holder}')");
            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }

        await attempt.Lease!.DisposeAsync();
        await slow.DisposeAsync();
        await other.DisposeAsync();
    }

    [Fact]
    public async Task A_cancelled_ask_whose_declaration_fails_deletes_nothing()
    {
        var broker = new InMemoryBroker("leases");
        var holder = await broker.ConnectAsync();
        var held = await holder.Leases!.TryAcquireAsync(new LeaseRequest(Lease, "host-b"), CancellationToken.None);
        var slow = new SlowReplyConnection(await broker.ConnectAsync());
        var leases = new ExclusiveQueueLeases(slow);
        using var cancel = new CancellationTokenSource();

        var asking = leases.TryAcquireAsync(new LeaseRequest(Lease, "host-a"), cancel.Token).AsTask();
        await Eventually.TrueAsync(() => slow.Declared, Patience, "the declaration was answered (refused)");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => asking.WaitAsync(Patience));
        slow.Reply();
        await slow.DisposeAsync(); // closing waits for nothing the ask left behind

        Assert.True(held.Lease!.IsHeld);
        Assert.True(broker.QueueExists("/", Lease));
        await held.Lease.DisposeAsync();
        await holder.DisposeAsync();
    }

    /// <summary>Declares queues at once, but lets the reply wait until <see cref="Reply"/>, as a broker's declare-ok may.</summary>
    private sealed class SlowReplyConnection(IBrokerConnection inner) : DelegatingBrokerConnection(inner)
    {
        private readonly TaskCompletionSource reply = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool declared;

        public bool Declared => declared;

        public void Reply() => reply.TrySetResult();

        public override async ValueTask DeclareQueueAsync(QueueSpec queue, CancellationToken cancellationToken)
        {
            try
            {
                await Inner.DeclareQueueAsync(queue, cancellationToken);
            }
            finally
            {
                declared = true;
                await reply.Task.WaitAsync(cancellationToken);
            }
        }
    }
}
