using System.Diagnostics;
using Xunit.Abstractions;

namespace FederationHost.Tests.NatsBlackBox;

/// <summary>
/// The README's nats:// recipe as written (upstream nats-a with credentials, downstream nats-b, one FederationHost),
/// seen from outside only: the npm <c>nats</c> client publishes on A and subscribes on B, the servers' monitoring
/// endpoints show where interest is, and the host's HTTP endpoints show the link.
/// </summary>
[Collection(NatsBlackBoxCollection.Name)]
[Trait("blackbox", "nats")]
public sealed class NatsBlackBoxPairTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Pair_a_subscriber_on_B_receives_once_what_is_published_on_A_with_one_hop()
    {
        var clock = Stopwatch.StartNew();
        await using var pair = await RecipePair.StartAsync();
        await pair.Client.SubscribeAsync("eu", "b", "orders.eu.*");
        await pair.WaitForUpstreamInterestAsync("orders.eu.*");

        var bodies = MessageBodies.Numbered("pair", 100);
        await pair.Client.PublishAsync("a", "orders.eu.created", bodies);

        await pair.Client.WaitForAsync("eu", r => r.Count >= bodies.Count, $"{bodies.Count} messages on B");
        await WaitForForwardedAsync(pair.Host, bodies.Count);
        var received = await pair.Client.ReceivedAsync("eu");
        BlackBoxAssert.ExactlyOnce(bodies, received, "B");
        Assert.Equal((bodies.Count, 0L), await pair.Host.TrafficAsync());
        foreach (var message in received)
        {
            Assert.Equal("orders.eu.created", message.Subject);
            var hop = Assert.Single(message.Trail);
            Assert.Contains("cluster-name=nats-a", hop, StringComparison.Ordinal);
            Assert.DoesNotContain(NatsReadmeRecipe.Password, hop, StringComparison.Ordinal);
        }

        var link = await pair.Host.LinkAsync();
        Assert.Equal($"nats://127.0.0.1:{pair.Upstream.Server.Port}?cluster-name=nats-a", link.GetProperty("uri").GetString());
        Assert.DoesNotContain(NatsReadmeRecipe.Password, pair.Host.Output, StringComparison.Ordinal);
        output.WriteLine($"pair: {received.Count} of {bodies.Count} received once each on B, in {clock.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task Interest_added_on_B_makes_messages_flow_from_A_and_once_removed_none_crosses()
    {
        var clock = Stopwatch.StartNew();
        await using var pair = await RecipePair.StartAsync();

        // The link runs from the start (namespaces=orders), but holds nothing upstream before B has a subscriber.
        Assert.DoesNotContain(await pair.Upstream.SubscribedSubjectsAsync(), s => s.StartsWith("orders", StringComparison.Ordinal));

        // Added: a subscriber appears on B; the link subscribes on A; messages flow.
        await pair.Client.SubscribeAsync("eu", "b", "orders.eu.*");
        await pair.Client.SubscribeAsync("us", "b", "orders.us.*");
        await pair.WaitForUpstreamInterestAsync("orders.eu.*");
        await pair.WaitForUpstreamInterestAsync("orders.us.*");
        var before = MessageBodies.Numbered("eu-while-subscribed", 20);
        await pair.Client.PublishAsync("a", "orders.eu.created", before);
        await pair.Client.WaitForAsync("eu", r => r.Count >= before.Count, "the eu messages on B");
        await WaitForForwardedAsync(pair.Host, before.Count);
        BlackBoxAssert.ExactlyOnce(before, await pair.Client.ReceivedAsync("eu"), "B (orders.eu.*)");

        // Removed: the subscriber goes away; the link's subscription on A goes too, and the other one stays.
        await pair.Client.UnsubscribeAsync("eu");
        await Eventually.UntilAsync(
            pair.Upstream.SubscribedSubjectsAsync,
            subjects => !subjects.Contains("orders.eu.*"),
            "the link to drop its orders.eu.* subscription on A");
        Assert.Contains("orders.us.*", await pair.Upstream.SubscribedSubjectsAsync());

        // Nothing for it crosses: eu messages published on A before a marker that still has interest. A and the
        // link's one connection keep their order, so once the marker is on B, any eu message that crossed would
        // have been forwarded (and counted) before it.
        var (forwardedBefore, droppedBefore) = await pair.Host.TrafficAsync();
        await pair.Client.PublishAsync("a", "orders.eu.created", MessageBodies.Numbered("eu-after-unsubscribe", 20));
        await pair.Client.PublishAsync("a", "orders.us.created", ["marker"]);
        await pair.Client.WaitForAsync("us", r => r.Any(m => m.Body == "marker"), "the marker on B");
        await WaitForForwardedAsync(pair.Host, forwardedBefore + 1);
        Assert.Equal((forwardedBefore + 1, droppedBefore), await pair.Host.TrafficAsync());
        Assert.Equal(before.Count, (await pair.Client.ReceivedAsync("eu")).Count);
        output.WriteLine($"interest added and removed: {before.Count} crossed while subscribed, 0 of 20 after, in {clock.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task After_a_kill_9_and_restart_of_the_upstream_the_link_recovers_and_traffic_flows_again()
    {
        var clock = Stopwatch.StartNew();
        await using var pair = await RecipePair.StartAsync();
        await pair.Client.SubscribeAsync("eu", "b", "orders.eu.*");
        await pair.WaitForUpstreamInterestAsync("orders.eu.*");
        var before = MessageBodies.Numbered("before-kill", 20);
        await pair.Client.PublishAsync("a", "orders.eu.created", before);
        await pair.Client.WaitForAsync("eu", r => r.Count >= before.Count, "the messages before the kill on B");

        var port = pair.Upstream.Server.Port;
        await pair.Upstream.Server.KillAsync();
        var down = await Eventually.UntilAsync(
            async () => (await pair.Host.LinksAsync()) is [var only] ? only : default,
            l => l.ValueKind == System.Text.Json.JsonValueKind.Object && l.GetProperty("state").GetString() is "error" or "starting",
            "the link to leave running after the upstream was killed");
        var downState = down.GetProperty("state").GetString();
        var downError = down.GetProperty("error").ToString();
        Assert.DoesNotContain(NatsReadmeRecipe.Password, downError, StringComparison.Ordinal);

        await pair.Upstream.Server.StartAsync();
        Assert.Equal(port, pair.Upstream.Server.Port);
        await pair.Host.WaitUntilRunningAsync(TimeSpan.FromSeconds(60));
        await Eventually.UntilAsync(
            pair.Upstream.SubscribedSubjectsAsync,
            subjects => subjects.Contains("orders.eu.*"),
            "the link to subscribe again on the restarted upstream",
            TimeSpan.FromSeconds(60));

        // Core NATS is at-most-once across the outage; what is published once the link is back must all arrive.
        var after = MessageBodies.Numbered("after-restart", 20);
        await pair.Client.PublishAsync("a", "orders.eu.created", after);
        var received = await pair.Client.WaitForAsync("eu", r => after.All(b => r.Any(m => m.Body == b)), "the messages after the restart on B", TimeSpan.FromSeconds(30));
        BlackBoxAssert.ExactlyOnce(after, [.. received.Where(m => m.Body.StartsWith("after-restart", StringComparison.Ordinal))], "B after the restart");
        Assert.DoesNotContain(NatsReadmeRecipe.Password, pair.Host.Output, StringComparison.Ordinal);

        // Said once each, not silently: the failure (a warning with its cause) and the recovery.
        await pair.Host.Process.WaitForOutputAsync("up again after");
        Assert.Contains("(orders <- nats-a) failed against nats://127.0.0.1:", pair.Host.Output, StringComparison.Ordinal);
        output.WriteLine($"kill -9: link went '{downState}' ({downError}), back to running; {after.Count} of {after.Count} after the restart; {clock.Elapsed.TotalSeconds:F1} s");
    }

    // The forwarded counter moves after the downstream confirmed the publish, so it can trail the delivery slightly.
    private static Task<(long Forwarded, long Dropped)> WaitForForwardedAsync(BlackBoxHost host, long atLeast) =>
        Eventually.UntilAsync(host.TrafficAsync, t => t.Forwarded >= atLeast, $"the link to count {atLeast} forwarded");
}
