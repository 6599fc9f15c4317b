using Federation.Core.Links;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A clean stop of an engine while other instances are live is a handover: it keeps the upstream queues for the next
/// holder. It used to keep every queue as soon as any other instance was live, even one with another configuration that
/// does not have the link and so never consumes its queue, which then filled up for good. Now a link's queue is kept only
/// while another live instance has that link (holds, waits or stands by for it); the others are deleted as on a single host.
/// </summary>
public sealed class CleanStopKeepsQueuesForOthersTests
{
    [Fact]
    public async Task A_clean_stop_keeps_the_queues_of_links_another_live_instance_has_and_deletes_the_others()
    {
        await using var cluster = new InstanceCluster(4);
        await cluster.DeclareExchangesAsync();
        await cluster.StartAsync("host-a", "^fed000[0-3]$");
        await cluster.StartAsync("host-b", "^fed000[2-3]$");
        var upstream = cluster.Bed.Broker("U");
        static string QueueOf(int index) => UpstreamNaming.QueueName("upstream", "D", "/", InstanceCluster.ExchangeName(index), "/");

        // Every link runs once, every queue exists, and host-a has heard host-b claim its links for a few heartbeats.
        await cluster.AdvanceUntilAsync(
            () => cluster.AllRunning() && Enumerable.Range(0, 4).All(i => upstream.QueueExists("/", QueueOf(i)))
                && cluster.LinksOf("host-b").All(l => l.State is LinkState.Running or LinkState.Waiting),
            TimeSpan.FromSeconds(30),
            cluster.Describe);
        var heard = cluster.Time.GetUtcNow();
        await cluster.AdvanceUntilAsync(() => cluster.Time.GetUtcNow() - heard >= TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(5), cluster.Describe);

        await cluster.StopAsync("host-a");

        // fed0000 and fed0001: only host-a had them, so nobody would consume their queues: deleted, as on a single host.
        Assert.False(upstream.QueueExists("/", QueueOf(0)), "the queue of fed0000, which no other instance has, was kept");
        Assert.False(upstream.QueueExists("/", QueueOf(1)), "the queue of fed0001, which no other instance has, was kept");

        // fed0002 and fed0003: host-b has them; their queues stay, and host-b runs both.
        Assert.True(upstream.QueueExists("/", QueueOf(2)));
        Assert.True(upstream.QueueExists("/", QueueOf(3)));
        await cluster.AdvanceUntilAsync(() => cluster.LinksOf("host-b").Count(l => l.State == LinkState.Running) == 2, TimeSpan.FromSeconds(10), cluster.Describe);
        Assert.True(upstream.QueueExists("/", QueueOf(2)));
        Assert.True(upstream.QueueExists("/", QueueOf(3)));
    }
}
