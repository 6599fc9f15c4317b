using Federation.Core.Transport;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// The confirms of one PING's batch complete one after another where the batch completes, not each on a thread-pool work
/// item of its own (a task shared by the batch would run only its first awaiter inline and queue every other one).
/// </summary>
public sealed class NatsConfirmBatchTests
{
    [Fact]
    public async Task The_confirms_of_one_batch_run_their_continuations_one_at_a_time_in_publish_order()
    {
        const int Count = 200;
        await using var frozen = await FrozenNatsServer.StartAsync();
        await using var connection = await new NatsTransport().ConnectAsync(new ConnectionRequest(frozen.Server.Url, "confirm-batch"), CancellationToken.None);
        await using var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true, MaxOutstandingConfirms: Count), CancellationToken.None);

        // Frozen, the server answers no PING: the first publish's PING waits, and all the later publishes join one batch.
        await frozen.FreezeAsync();
        var order = new List<int>();
        var running = 0;
        var mostAtOnce = 0;
        var entered = 0;
        var finished = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Finished()
        {
            if (Interlocked.Increment(ref finished) == Count)
            {
                done.TrySetResult();
            }
        }

        for (var i = 0; i < Count; i++)
        {
            var index = i;
            OnceConfirmed(publisher.PublishAsync("orders", "k", new MessageProperties(), new byte[] { 1 }, CancellationToken.None), () =>
            {
                if (index == 0)
                {
                    // The first publish's PING has a batch of its own, completed on a work item of its own, which may run
                    // beside the next batch's: only the shared batch is judged.
                    Finished();
                    return;
                }

                var now = Interlocked.Increment(ref running);
                InterlockedMax(ref mostAtOnce, now);
                Interlocked.Increment(ref entered);
                if (index == 1)
                {
                    // The first of the shared batch stays a while: a continuation that starts meanwhile runs beside it.
                    SpinWait.SpinUntil(() => Volatile.Read(ref entered) > 1, TimeSpan.FromSeconds(2));
                }

                lock (order)
                {
                    order.Add(index);
                }

                Interlocked.Decrement(ref running);
                Finished();
            });
        }

        await frozen.ThawAsync();
        await done.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, Volatile.Read(ref mostAtOnce));
        lock (order)
        {
            Assert.Equal(Enumerable.Range(1, Count - 1), order);
        }
    }

    /// <summary>Runs <paramref name="then"/> as the link's settlement does: an awaiter's continuation, without the execution context.</summary>
    private static void OnceConfirmed(ValueTask published, Action then)
    {
        var awaiter = published.ConfigureAwait(false).GetAwaiter();
        awaiter.UnsafeOnCompleted(() =>
        {
            awaiter.GetResult();
            then();
        });
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
