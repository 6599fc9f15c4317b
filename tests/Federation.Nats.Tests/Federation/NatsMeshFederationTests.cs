using System.Text;
using Federation.Core.Hops;
using Federation.Core.Model;
using Federation.Nats.Transport;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Federation;

/// <summary>Three real nats-servers federating namespace <c>news</c> in a complete graph and in a ring.</summary>
public sealed class NatsMeshFederationTests() : NatsFederationTestbed("news", [.. Names.Select(n => "mesh-" + n)])
{
    private static readonly TimeSpan QuietPeriod = TimeSpan.FromMilliseconds(1000);
    private static readonly string[] Names = ["A", "B", "C"];

    private string Uri(int i) => Uri(Servers[i], Names[i]);

    /// <summary>An engine whose downstream is server <paramref name="downstream"/>, federating <c>news</c> from every server in <paramref name="upstreams"/>.</summary>
    private async Task StartEngineAsync(int downstream, int maxHops, params int[] upstreams)
    {
        var options = new FederationOptions { Downstream = { Uri = Uri(downstream) } };
        foreach (var u in upstreams)
        {
            options.Upstreams["up-" + Names[u]] = new UpstreamDefinition { Uris = { Uri(u) }, MaxHops = maxHops, ReconnectDelaySeconds = 1 };
        }

        options.Policies["fed"] = new FederationPolicy { Pattern = "^news$", Definition = new FederationPolicyDefinition { FederationUpstreamSet = "all" } };
        await StartEngineAsync(options, upstreams.Length);
    }

    private Task<NatsConnection> ConnectAsync(int server) => ConnectAsync(Servers[server], "test-app-" + Names[server]);

    /// <summary>Sets up one subscriber per server, waits for the expected SUB count of <c>news.*</c> on each, publishes one message per server and returns what each subscriber got.</summary>
    private async Task<List<NatsMsg<byte[]>>[]> PublishOnePerServerAsync(int expectedSubsPerServer)
    {
        var subscriptions = new INatsSub<byte[]>[3];
        for (var i = 0; i < 3; i++)
        {
            var connection = await ConnectAsync(i);
            subscriptions[i] = await connection.SubscribeCoreAsync<byte[]>("news.*");
            await connection.PingAsync();
        }

        for (var i = 0; i < 3; i++)
        {
            var server = i;
            List<string> have = [];
            await EventuallyAsync(
                async () => (have = await SubjectsAsync(Servers[server])).Count(s => s == "news.*") == expectedSubsPerServer,
                () => $"{expectedSubsPerServer} news.* SUBs on {Names[server]}; have {string.Join(",", have)}");
        }

        for (var i = 0; i < 3; i++)
        {
            var publisher = await ConnectAsync(i);
            await publisher.PublishAsync("news.item", Encoding.UTF8.GetBytes("from-" + Names[i]));
            await publisher.PingAsync();
        }

        var received = new List<NatsMsg<byte[]>>[3];
        for (var i = 0; i < 3; i++)
        {
            received[i] = [];
            using var timeout = new CancellationTokenSource(Deadline);
            while (received[i].Count < 3)
            {
                received[i].Add(await subscriptions[i].Msgs.ReadAsync(timeout.Token));
            }
        }

        // Quiet period: nothing else (no duplicate, no echo) arrives on any subscriber.
        var quietUntil = DateTime.UtcNow + QuietPeriod;
        while (DateTime.UtcNow < quietUntil)
        {
            for (var i = 0; i < 3; i++)
            {
                if (subscriptions[i].Msgs.TryRead(out var extra))
                {
                    Assert.Fail($"{Names[i]} got an extra message {Body(extra)} with trail [{string.Join(" | ", Trail(extra).Select(h => h.ClusterName))}]");
                }
            }

            await Task.Delay(PollInterval);
        }

        return received;
    }

    private static IReadOnlyList<ReceivedFromEntry> Trail(NatsMsg<byte[]> message) =>
        message.Headers is null ? [] : HopRules.ReadReceivedFrom(NatsMessageMapping.ToProperties(message.Headers).Headers);

    [Fact]
    public async Task Complete_graph_of_three_with_max_hops_1_delivers_each_message_once_everywhere()
    {
        await StartEngineAsync(0, 1, 1, 2);
        await StartEngineAsync(1, 1, 0, 2);
        await StartEngineAsync(2, 1, 0, 1);

        // Each server: the local subscriber plus one SUB per engine pulling from it (two).
        var received = await PublishOnePerServerAsync(3);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(Names.Select(n => "from-" + n).Order(), received[i].Select(Body).Order());
            foreach (var message in received[i])
            {
                var origin = Body(message)["from-".Length..];
                var trail = Trail(message);
                if (origin == Names[i])
                {
                    Assert.Empty(trail);
                }
                else
                {
                    Assert.Equal(origin, Assert.Single(trail).ClusterName);
                }
            }
        }
    }

    [Fact]
    public async Task Ring_of_three_with_max_hops_2_delivers_each_message_once_everywhere()
    {
        // A pulls from C, B from A, C from B: messages travel A -> B -> C -> A.
        await StartEngineAsync(0, 2, 2);
        await StartEngineAsync(1, 2, 0);
        await StartEngineAsync(2, 2, 1);

        // Each server: the local subscriber plus the SUB of the one engine pulling from it.
        var received = await PublishOnePerServerAsync(2);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(Names.Select(n => "from-" + n).Order(), received[i].Select(Body).Order());
            foreach (var message in received[i])
            {
                var origin = Array.IndexOf(Names, Body(message)["from-".Length..]);
                var hops = (i - origin + 3) % 3;
                var trail = Trail(message).Select(h => h.ClusterName).ToList();

                // Newest hop first: the server it came from, back to the origin.
                Assert.Equal(Enumerable.Range(1, hops).Select(k => Names[(i - k + 3) % 3]), trail);
            }
        }
    }
}
