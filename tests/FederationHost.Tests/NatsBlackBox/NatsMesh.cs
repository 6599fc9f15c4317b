namespace FederationHost.Tests.NatsBlackBox;

/// <summary>
/// nats-servers each started as the README's recipe starts its downstream, one FederationHost per server (downstream:
/// that server; upstream: the one <c>upstreamOf</c> names; the recipe's appsettings.json with ports, names and max-hops
/// changed), and one npm client subscribed on every server.
/// </summary>
internal sealed class NatsMesh : IAsyncDisposable
{
    /// <summary>The subject every server's npm subscriber listens on, and under which the cases publish.</summary>
    public const string Subject = "orders.mesh.>";

    private NatsMesh(NpmNatsClient client)
    {
        Client = client;
    }

    public List<NatsNode> Nodes { get; } = [];

    public List<BlackBoxHost> Hosts { get; } = [];

    public NpmNatsClient Client { get; }

    public static async Task<NatsMesh> StartAsync(string[] names, int maxHops, Func<int, int> upstreamOf)
    {
        var recipe = NatsReadmeRecipe.Load();
        var mesh = new NatsMesh(NpmNatsClient.Start());
        try
        {
            foreach (var name in names)
            {
                mesh.Nodes.Add(await NatsNode.StartAsync(name, recipe.ServerArgsNamed(name)));
            }

            for (var i = 0; i < names.Length; i++)
            {
                mesh.Hosts.Add(await BlackBoxHost.StartAsync(recipe.AppSettingsFor(mesh.Nodes[i], mesh.Nodes[upstreamOf(i)], maxHops)));
            }

            foreach (var host in mesh.Hosts)
            {
                await host.WaitUntilRunningAsync();
            }

            // A local subscriber on every server: interest travels one hop (a host ignores other links' subscriptions).
            foreach (var node in mesh.Nodes)
            {
                await mesh.Client.ConnectAsync(node.Name, node.Server.Port);
                await mesh.Client.SubscribeAsync(node.Name, node.Name, Subject);
            }

            // Each server then holds two subscriptions on the subject: the npm client's and the link's of the host whose upstream it is.
            foreach (var node in mesh.Nodes)
            {
                await Eventually.UntilAsync(() => node.SubscriptionCountAsync(Subject), n => n == 2, $"{node.Name} to hold the npm and the link subscription on {Subject}");
            }

            return mesh;
        }
        catch
        {
            await mesh.DisposeAsync();
            throw;
        }
    }

    /// <summary>Publishes <paramref name="perNode"/> messages on every server; returns each body with the index of its server.</summary>
    public async Task<Dictionary<string, int>> PublishOnEveryNodeAsync(int perNode)
    {
        var published = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < Nodes.Count; i++)
        {
            var bodies = MessageBodies.Numbered($"from-{Nodes[i].Name}", perNode);
            await Client.PublishAsync(Nodes[i].Name, "orders.mesh.created", bodies);
            bodies.ForEach(b => published.Add(b, i));
        }

        return published;
    }

    /// <summary>
    /// Waits until every subscriber has <paramref name="perSubscriber"/> messages and every host has dropped
    /// <paramref name="droppedPerHost"/>: the drop is the last step of every message's way, so after it no copy is
    /// still travelling and the counts are final.
    /// </summary>
    public async Task WaitUntilSettledAsync(int perSubscriber, long droppedPerHost)
    {
        foreach (var node in Nodes)
        {
            await Client.WaitForAsync(node.Name, r => r.Count >= perSubscriber, $"{perSubscriber} messages at {node.Name}");
        }

        foreach (var host in Hosts)
        {
            await Eventually.UntilAsync(host.TrafficAsync, t => t.Dropped >= droppedPerHost, $"a host to drop {droppedPerHost}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        foreach (var host in Hosts)
        {
            await host.DisposeAsync();
        }

        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }
    }
}
