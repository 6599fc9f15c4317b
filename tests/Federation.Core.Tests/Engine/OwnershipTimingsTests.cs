using Federation.Core.Model;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// The configured <c>Federation:Ownership</c> timings are the ones the engines work by: how long the survivors wait before
/// taking a dead instance's links follows the presence timeout and the heartbeat, measured on a fake clock.
/// </summary>
public sealed class OwnershipTimingsTests
{
    private const int Links = 6;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(60);
    private static readonly string[] Instances = ["host-a", "host-b", "host-c"];

    [Fact]
    public async Task A_long_presence_timeout_keeps_a_dead_instances_links_waiting_that_long()
    {
        await using var cluster = await StartedClusterAsync(ownership =>
        {
            ownership.PresenceTimeout = TimeSpan.FromSeconds(30);
            ownership.FallbackDelay = TimeSpan.FromSeconds(90);
        });

        await cluster.CrashAsync("host-c");
        var took = await cluster.AdvanceUntilAsync(cluster.AllRunning, TimeSpan.FromSeconds(45), cluster.Describe, step: TimeSpan.FromMilliseconds(500));

        // Heard last at most a heartbeat before the crash, forgotten once 30 s of silence are over (the default is 3 s).
        Assert.InRange(took, TimeSpan.FromSeconds(28), TimeSpan.FromSeconds(40));
        cluster.Census.AssertOneAtATime();
    }

    [Fact]
    public async Task Short_heartbeats_and_presence_timeout_move_a_dead_instances_links_sooner_than_the_defaults_could()
    {
        await using var cluster = await StartedClusterAsync(ownership =>
        {
            ownership.HeartbeatInterval = TimeSpan.FromMilliseconds(100);
            ownership.PresenceTimeout = TimeSpan.FromMilliseconds(300);
            ownership.SettleTime = TimeSpan.FromMilliseconds(300);
        });

        await cluster.CrashAsync("host-c");
        var took = await cluster.AdvanceUntilAsync(cluster.AllRunning, TimeSpan.FromSeconds(10), cluster.Describe, step: TimeSpan.FromMilliseconds(100));

        // The default 3 s presence timeout could not move them in under 2 s.
        Assert.InRange(took, TimeSpan.Zero, TimeSpan.FromSeconds(1.5));
        cluster.Census.AssertOneAtATime();
    }

    private static async Task<InstanceCluster> StartedClusterAsync(Action<OwnershipOptions> ownership)
    {
        var cluster = new InstanceCluster(Links, ownership);
        try
        {
            await cluster.DeclareExchangesAsync();
            foreach (var instance in Instances)
            {
                await cluster.StartAsync(instance);
            }

            // Where placement puts them (an even spread reached by the first asks may still be handed over).
            await cluster.AdvanceUntilAsync(() => cluster.Placed() && cluster.Spread(slack: 0), Settle, cluster.Describe);

            // That reads what each instance runs now; the others learn it from its next heartbeat. An instance killed
            // before its heartbeats claimed a link it had just taken has its link taken by the others after two heartbeats
            // in which nobody claims it, not after the presence timeout these tests measure (CI saw 1 s): so the clock
            // moves on until the heartbeats have told, the links staying where they are.
            var options = new OwnershipOptions();
            ownership(options);
            var told = cluster.Time.GetUtcNow() + options.HeartbeatInterval * 3;
            await cluster.AdvanceUntilAsync(() => cluster.Time.GetUtcNow() >= told, Settle, cluster.Describe, step: options.HeartbeatInterval / 4);
            Assert.True(cluster.Placed(), cluster.Describe());
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }
}
