using Federation.Core.Hops;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A trail entry names the broker a message left by the cluster name that broker advertises (as the plugin writes it,
/// from the upstream connection), whatever <c>ClusterName</c> the hosts federating into it were configured with. So a
/// message that comes back to a downstream whose configured <c>ClusterName</c> is not the name its broker advertises is
/// still a cycle. A black-box run (two vhosts of one node, each with its own configured name) saw such a message forwarded
/// back in, stopped only by max-hops.
/// </summary>
public sealed class ConfiguredClusterNameCycleTests : IAsyncLifetime
{
    private const string Exchange = "fed.configured-name-cycle";

    private readonly Testbed _bed = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    [Fact]
    public async Task A_message_back_at_a_downstream_known_by_another_configured_name_is_dropped_as_a_cycle()
    {
        // Brokers X and Y advertise "X" and "Y"; the hosts call them "east" and "west". Max-hops 10 is far from reached.
        var onXEngine = await _bed.StartEngineAsync("X", o =>
        {
            o.ClusterName = "east";
            o.Upstream("from-y", "Y", u => u.MaxHops = 10).Policy("fed", "^fed\\.configured-name-cycle$", upstream: "from-y");
        });
        var onYEngine = await _bed.StartEngineAsync("Y", o =>
        {
            o.ClusterName = "west";
            o.Upstream("from-x", "X", u => u.MaxHops = 10).Policy("fed", "^fed\\.configured-name-cycle$", upstream: "from-x");
        });
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("X"), Exchange);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("Y"), Exchange);
        var onX = await _bed.BindQueueAsync("X", Exchange, "key");
        var onY = await _bed.BindQueueAsync("Y", Exchange, "key");
        await Testbed.WaitForRunningLinksAsync(onXEngine, 1);
        await Testbed.WaitForRunningLinksAsync(onYEngine, 1);
        await _bed.WaitForBindingsAsync("X", Exchange, "key", 2);
        await _bed.WaitForBindingsAsync("Y", Exchange, "key", 2);

        // Published on X: Y's link forwards it with the entry (X, /); X's link from Y must see X in the trail.
        await Testbed.PublishAsync(await _bed.ConnectAsync("X"), Exchange, "key", "round-trip");
        await onY.ExpectAsync("round-trip");
        await onX.ExpectAsync("round-trip");
        await Testbed.Eventually(
            () => onXEngine.GetLinks().Sum(s => s.DroppedMessages?.GetValueOrDefault("cycle") ?? 0) == 1,
            () => $"cycle drops on X's link from Y: {string.Join(", ", onXEngine.GetLinks().SelectMany(s => s.DroppedMessages ?? new Dictionary<string, long>()).Select(d => $"{d.Key}={d.Value}"))}");
    }

    [Fact]
    public async Task Two_brokers_that_advertise_one_name_are_told_apart_by_their_configured_names()
    {
        // P and Q both advertise "same" (two separate deployments of one manifest): the trail cannot tell them apart, so the
        // link from Q into P checks for P's configured name alone, and a message from Q is not a cycle.
        _bed.Registry.GetOrAdd("P", "same");
        _bed.Registry.GetOrAdd("Q", "same");
        var engine = await _bed.StartEngineAsync("P", o =>
        {
            o.ClusterName = "p";
            o.Upstream("from-q", "Q", u => u.MaxHops = 10).Policy("fed", "^fed\\.configured-name-cycle$", upstream: "from-q");
        });
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("P"), Exchange);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("Q"), Exchange);
        var onP = await _bed.BindQueueAsync("P", Exchange, "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("Q", Exchange, "key", 1);

        // A message that already left a broker named "same" (as one forwarded into Q from elsewhere would have).
        var trail = HopRules.PrependReceivedFrom(null, new ReceivedFromEntry("amqp://elsewhere", Exchange, false, "same", "/"));
        await Testbed.PublishAsync(await _bed.ConnectAsync("Q"), Exchange, "key", "from-q", new MessageProperties { Headers = trail });
        await onP.ExpectAsync("from-q");
    }
}
