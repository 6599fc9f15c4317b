using System.Diagnostics;
using Xunit.Abstractions;

namespace FederationHost.Tests.NatsBlackBox;

/// <summary>
/// Several FederationHosts, each configured with the README's nats:// recipe (only ports, names and max-hops changed),
/// joining real nats-servers into a ring of three and into a pair federated both ways. Every server is started as the
/// recipe starts its downstream (without credentials: each server is a downstream here, and the recipe's downstream URI
/// carries none); the upstream URIs keep the recipe's credentials, which a server without authorization accepts. The npm
/// <c>nats</c> client subscribes and publishes on every server; each host's <c>/metrics</c> tells why it dropped what
/// it dropped.
/// </summary>
[Collection(NatsBlackBoxCollection.Name)]
[Trait("blackbox", "nats")]
public sealed class NatsBlackBoxTopologyTests(ITestOutputHelper output)
{
    private const int PerNode = 10;

    [Fact]
    public async Task Ring_of_three_with_max_hops_2_delivers_each_message_once_at_each_node_and_the_trail_stops_at_2()
    {
        var clock = Stopwatch.StartNew();
        await using var mesh = await NatsMesh.StartAsync(["ring-1", "ring-2", "ring-3"], maxHops: 2, upstreamOf: i => (i + 2) % 3);

        var published = await mesh.PublishOnEveryNodeAsync(PerNode);
        await mesh.WaitUntilSettledAsync(published.Count, droppedPerHost: PerNode);

        for (var j = 0; j < 3; j++)
        {
            var received = await mesh.Client.ReceivedAsync(mesh.Nodes[j].Name);
            BlackBoxAssert.ExactlyOnce(published.Keys, received, mesh.Nodes[j].Name);
            foreach (var message in received)
            {
                // From node i, a message reaches node j over (j - i) mod 3 links, each adding one entry, newest first:
                // the upstream it last came from, then the one before.
                var origin = published[message.Body];
                var hops = (j - origin + 3) % 3;
                var expected = Enumerable.Range(0, hops).Select(k => $"cluster-name={mesh.Nodes[(j - 1 - k + 3) % 3].Name}").ToList();
                Assert.True(
                    message.Trail.Count == hops && message.Trail.Zip(expected).All(p => p.First.Contains(p.Second, StringComparison.Ordinal)),
                    $"{message.Body} at {mesh.Nodes[j].Name}: trail [{string.Join(" | ", message.Trail)}], expected {hops} hop(s) [{string.Join(", ", expected)}]");
            }
        }

        // The third link of every message's way is refused by max-hops (checked before the cycle rule), at the host
        // whose downstream the message started from.
        foreach (var host in mesh.Hosts)
        {
            Assert.Equal(new Dictionary<string, long> { ["max_hops"] = PerNode }, await host.DroppedByReasonAsync());
        }

        output.WriteLine($"ring of 3, max-hops 2: {published.Count} messages, each once at each node, {PerNode} dropped for max_hops per host, in {clock.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task Pair_federated_both_ways_delivers_once_and_nothing_comes_back()
    {
        var clock = Stopwatch.StartNew();

        // max-hops 2, so that what stops the loop is the cycle rule (the message already left that server), not the hop limit.
        await using var mesh = await NatsMesh.StartAsync(["nats-a", "nats-b"], maxHops: 2, upstreamOf: i => 1 - i);

        var published = await mesh.PublishOnEveryNodeAsync(PerNode);
        await mesh.WaitUntilSettledAsync(published.Count, droppedPerHost: PerNode);

        for (var j = 0; j < 2; j++)
        {
            var node = mesh.Nodes[j];
            var received = await mesh.Client.ReceivedAsync(node.Name);
            BlackBoxAssert.ExactlyOnce(published.Keys, received, node.Name);
            foreach (var message in received)
            {
                var local = published[message.Body] == j;
                Assert.True(
                    local ? message.Trail.Count == 0 : message.Trail is [var hop] && hop.Contains($"cluster-name={mesh.Nodes[1 - j].Name}", StringComparison.Ordinal),
                    $"{message.Body} at {node.Name}: trail [{string.Join(" | ", message.Trail)}]");
            }
        }

        foreach (var host in mesh.Hosts)
        {
            Assert.Equal(new Dictionary<string, long> { ["cycle"] = PerNode }, await host.DroppedByReasonAsync());
        }

        output.WriteLine($"pair both ways, max-hops 2: {published.Count} messages, each once on each side, {PerNode} dropped as cycle per host, in {clock.Elapsed.TotalSeconds:F1} s");
    }
}
